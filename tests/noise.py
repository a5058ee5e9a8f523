"""A reproducible noise set for voice-activity tests, generated in code (nothing stored or fetched).

Four backgrounds a trainee's microphone picks up while the AI customer talks:
- keyboard: key clicks (broadband transients with a small resonance, and a softer release) at
  typing rhythm: words of keys, spaces, pauses;
- fan: steady shaped noise (pink-ish, rolled off above ~2 kHz) with a blade-pass hum;
- cough: groups of coughs, each a short voiced onset (glottal pulses through formants) then a
  burst of band-limited noise with a fast attack and exponential decay;
- tv: eSpeak NG speech in several voices, band-limited and reverberant as from a TV across the
  room, over music-like chords.

Levels are set from active level (RMS over the 20 ms frames within 30 dB of the loudest, the
idea of ITU-T P.56) so a cough and a fan at "10 dB SNR" are both 10 dB under the speech they are
compared with, while it lasts. Foreground speech sits at `SPEECH_DBFS`. Everything is seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from server.voice.audio import resample
from server.voice.espeak import Espeak

RATE = 16000
SPEECH_DBFS = -20.0  # active level of foreground speech
NOISE_KINDS = ("keyboard", "fan", "cough", "tv")
VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp+m3", "en-029", "en-us+f4")
INTERRUPTIONS = (
    "wait, what does that cover?",
    "hold on, I have a question",
    "sorry, how much is the monthly payment?",
    "no, that is too expensive for me",
    "can you tell me about the warranty?",
    "actually I want the blue one",
)
TV_LINES = (
    "And now, the weather for the weekend across the region.",
    "Scientists say the discovery could change how we think about the ocean.",
    "Stay tuned, after the break we have the highlights from tonight's game.",
    "The new season starts next week with a special two hour episode.",
    "Traffic is heavy on the northbound lanes this evening.",
)
_FRAME = RATE // 50


@dataclass(frozen=True, slots=True)
class Clip:
    pcm: bytes  # PCM16 mono at RATE
    kind: str
    snr_db: float | None  # None: no noise
    onset_ms: int | None  # where the foreground speech starts (first sample above -40 dBFS); None: noise only
    speech_ms: int  # length of the foreground speech (0: noise only)


def active_rms(x: np.ndarray) -> float:
    n = len(x) // _FRAME * _FRAME
    frames = np.sqrt(np.mean(x[:n].reshape(-1, _FRAME).astype(np.float64) ** 2, axis=1))
    if not frames.size or frames.max() <= 0:
        return 0.0
    active = frames[frames >= frames.max() * 10 ** (-30 / 20)]
    return float(np.sqrt(np.mean(active ** 2)))


def _at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    level = active_rms(x)
    return x * (10 ** (dbfs / 20) / level) if level > 0 else x


def _shape(x: np.ndarray, gain: Callable[[np.ndarray], np.ndarray] | None = None, *, low: float = 0.0,
           high: float = RATE / 2, slope: float = 0.0) -> np.ndarray:
    """Filter in the frequency domain: a band [low, high] and a 1/f**slope tilt (numpy only)."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    mask = ((freqs >= low) & (freqs <= high)).astype(np.float64)
    if slope:
        mask *= np.maximum(freqs, 20.0) ** -slope
    if gain is not None:
        mask *= gain(freqs)
    return np.fft.irfft(spectrum * mask, n=len(x))


def _click(rng: np.random.Generator, *, low_thunk: bool) -> np.ndarray:
    n = int(RATE * rng.uniform(0.012, 0.025))
    t = np.arange(n) / RATE
    decay = np.exp(-t / rng.uniform(0.002, 0.006))
    freq = rng.uniform(300, 700) if low_thunk else rng.uniform(1500, 5000)
    ring = np.sin(2 * np.pi * freq * t) * np.exp(-t / rng.uniform(0.004, 0.01))
    attack = np.minimum(1.0, t / 0.0005)
    return attack * (rng.normal(0, 1, n) * decay + 0.6 * ring)


def keyboard(seconds: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(int(RATE * seconds))
    t = rng.uniform(0, 0.3)
    while t < seconds:
        for key in range(int(rng.integers(3, 9)) + 1):
            space = key == 0
            press = _click(rng, low_thunk=space) * rng.uniform(0.6, 1.0)
            release = _click(rng, low_thunk=space) * rng.uniform(0.2, 0.35)
            for offset, sound in ((t, press), (t + rng.uniform(0.06, 0.11), release)):
                start = int(offset * RATE)
                end = min(len(out), start + len(sound))
                if start < end:
                    out[start:end] += sound[:end - start]
            t += rng.uniform(0.08, 0.2)
        t += rng.uniform(0.1, 0.3) if rng.random() < 0.8 else rng.uniform(0.6, 2.0)  # a thought
    return out


def fan(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(RATE * seconds)
    rolloff = 2000.0
    bed = _shape(rng.normal(0, 1, n), lambda f: 1 / (1 + (f / rolloff) ** 4), low=40, slope=0.5)
    bed /= np.sqrt(np.mean(bed ** 2))
    t = np.arange(n) / RATE
    blade = rng.uniform(90, 140)
    wobble = 1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t)
    hum = sum(np.sin(2 * np.pi * blade * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3))
    return bed + 0.4 * wobble * hum


def _cough(rng: np.random.Generator) -> np.ndarray:
    length = rng.uniform(0.25, 0.45)
    n = int(RATE * length)
    t = np.arange(n) / RATE
    # Voiced onset: glottal pulses (harmonics of f0) weighted by three formants, 30-60 ms long.
    f0 = rng.uniform(140, 300)
    formants = (rng.uniform(450, 700), rng.uniform(1200, 1800), rng.uniform(2300, 2900))
    harmonics = np.arange(1, int(4000 / f0))
    weights = sum(1 / (1 + ((harmonics * f0 - f) / 120) ** 2) for f in formants)
    voiced = (weights[:, None] * np.sin(2 * np.pi * f0 * harmonics[:, None] * t)).sum(axis=0)
    voiced /= np.abs(voiced).max()
    onset = rng.uniform(0.03, 0.06)
    voiced_env = np.clip(t / 0.005, 0, 1) * np.clip((onset - t) / 0.01, 0, 1)
    # Then the burst of turbulent air, 200-4000 Hz, fast attack and a ~100 ms decay.
    burst = _shape(rng.normal(0, 1, n), low=200, high=4000, slope=0.3)
    burst /= np.abs(burst).max()
    burst_env = np.clip((t - onset * 0.6) / 0.01, 0, 1) * np.exp(-np.maximum(t - onset, 0) / rng.uniform(0.07, 0.13))
    return 0.8 * voiced * voiced_env + burst * burst_env


def cough(seconds: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(int(RATE * seconds))
    t = rng.uniform(0.2, 1.0)
    while t < seconds:
        for _ in range(int(rng.integers(1, 4))):  # a group of one to three
            sound = _cough(rng) * rng.uniform(0.6, 1.0)
            start = int(t * RATE)
            end = min(len(out), start + len(sound))
            if start < end:
                out[start:end] += sound[:end - start]
            t += len(sound) / RATE + rng.uniform(0.1, 0.3)
        t += rng.uniform(1.5, 4.0)
    return out


def _espeak(text: str, voice: str, words_per_minute: int = 175) -> np.ndarray:
    pcm, rate = Espeak.synthesize(text, voice=voice, words_per_minute=words_per_minute)
    return np.frombuffer(resample(pcm, rate, RATE), dtype=np.int16).astype(np.float64)


def tv(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(RATE * seconds)
    talk = np.zeros(n)
    t = rng.uniform(0, 0.5)
    while t < seconds:
        line = _espeak(TV_LINES[int(rng.integers(len(TV_LINES)))], VOICES[int(rng.integers(len(VOICES)))],
                       int(rng.integers(150, 200)))
        start = int(t * RATE)
        end = min(n, start + len(line))
        talk[start:end] += line[:end - start] / 32768
        t += len(line) / RATE + rng.uniform(0.2, 0.8)
    # A TV across the room: a small speaker's band and a short reverberant tail.
    talk = _shape(talk, low=200, high=4000)
    tail = np.exp(-np.arange(int(0.25 * RATE)) / (0.06 * RATE)) * rng.normal(0, 1, int(0.25 * RATE))
    tail[0] = 8.0
    talk = np.fft.irfft(np.fft.rfft(talk, n + len(tail)) * np.fft.rfft(tail, n + len(tail)))[:n]
    # Music-like bed: three-note chords of tones with two overtones, a new chord every 0.3-0.6 s.
    music = np.zeros(n)
    pos = 0
    while pos < n:
        length = min(n - pos, int(RATE * rng.uniform(0.3, 0.6)))
        tt = np.arange(length) / RATE
        env = np.minimum(1.0, tt / 0.02) * np.exp(-tt / 0.5)
        root = 220 * 2 ** (int(rng.integers(-5, 8)) / 12)
        for step in (0, 4, 7):
            f = root * 2 ** (step / 12)
            music[pos:pos + length] += env * sum(np.sin(2 * np.pi * f * k * tt) / k ** 2 for k in (1, 2, 3))
        pos += length
    talk /= max(active_rms(talk), 1e-9)
    music /= max(active_rms(music), 1e-9)
    return talk + 0.5 * music


_GENERATORS = {"keyboard": keyboard, "fan": fan, "cough": cough, "tv": tv}


def noise(kind: str, seconds: float, *, snr_db: float, seed: int = 0) -> np.ndarray:
    """`seconds` of one kind of noise, `snr_db` under the foreground speech level (float samples)."""
    rng = np.random.default_rng([seed, NOISE_KINDS.index(kind)])
    return _at_level(_GENERATORS[kind](seconds, rng), SPEECH_DBFS - snr_db)


def foreground(index: int) -> np.ndarray:
    """One of the interrupting phrases, in one of the voices, at the foreground speech level."""
    text = INTERRUPTIONS[index % len(INTERRUPTIONS)]
    voice = VOICES[index % len(VOICES)]
    return _at_level(_espeak(text, voice, 160 + 10 * (index % 4)) / 32768, SPEECH_DBFS)


def _pcm(x: np.ndarray) -> bytes:
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16).tobytes()


def noise_clip(kind: str, seconds: float, *, snr_db: float, seed: int = 0) -> Clip:
    return Clip(_pcm(noise(kind, seconds, snr_db=snr_db, seed=seed)), kind, snr_db, None, 0)


def single_cough(*, seed: int = 0, snr_db: float = 0.0) -> Clip:
    """One cough between 300 ms and 1 s of silence: what a trainee does while the customer talks."""
    sound = _cough(np.random.default_rng([seed, NOISE_KINDS.index("cough"), 1]))
    mix = np.concatenate((np.zeros(RATE * 3 // 10), sound, np.zeros(RATE)))
    return Clip(_pcm(_at_level(mix, SPEECH_DBFS - snr_db)), "cough", snr_db, None, 0)


def speech_clip(index: int, kind: str | None, *, snr_db: float = 10.0, lead_ms: int = 600,
                tail_ms: int = 600, seed: int = 0) -> Clip:
    """Foreground speech starting after `lead_ms` of the background (or of silence: `kind` None)."""
    speech = foreground(index)
    lead, tail = int(RATE * lead_ms / 1000), int(RATE * tail_ms / 1000)
    mix = np.zeros(lead + len(speech) + tail)
    mix[lead:lead + len(speech)] = speech
    if kind is not None:
        mix += noise(kind, len(mix) / RATE, snr_db=snr_db, seed=seed * 1000 + index)
    voiced = np.flatnonzero(np.abs(speech) >= 10 ** (-40 / 20))
    onset = lead + int(voiced[0]) if voiced.size else lead
    end = lead + int(voiced[-1]) if voiced.size else lead
    return Clip(_pcm(mix), kind or "clean", snr_db if kind else None, onset * 1000 // RATE,
                (end - onset) * 1000 // RATE)
