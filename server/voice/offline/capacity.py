"""How many offline voice sessions this machine holds, measured on the spot (for `sparring doctor`).

A session in conversation alternates the user's turn (transcribed once, in segments) and the
customer's reply (synthesised once). One turn pair costs `stt_s + tts_s` of one thread and lasts
`speech_s + reply_s` of real time, so a pool of `threads` keeps up with
`threads * (speech_s + reply_s) / (stt_s + tts_s)` sessions talking without pause; real sessions
also listen and think, so this is the floor, not the average.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from server.voice.audio import resample
from server.voice.espeak import Espeak

TURN = "How much is this car, and can you do anything about the price today?"
REPLY = "That seems high to me. I saw the same model across town for less, with winter tires."


@dataclass(frozen=True, slots=True)
class Capacity:
    threads: int
    speech_s: float  # the user's turn
    stt_s: float  # transcribing it
    reply_s: float  # the customer's reply
    tts_s: float  # synthesising it

    @property
    def stt_rtf(self) -> float:
        return self.stt_s / self.speech_s

    @property
    def tts_rtf(self) -> float:
        return self.tts_s / self.reply_s

    @property
    def sessions(self) -> int:
        return math.floor(self.threads * (self.speech_s + self.reply_s) / (self.stt_s + self.tts_s))


def measure(threads: int) -> Capacity:
    """One transcription and one synthesis on this thread (the models must load first)."""
    from server.voice.offline.piper import synthesize_all
    from server.voice.offline.whisper import transcribe_pcm

    pcm, rate = Espeak.synthesize(TURN)
    pcm = resample(pcm, rate, 16000)
    began = time.perf_counter()
    transcribe_pcm(pcm, 16000)
    stt_s = time.perf_counter() - began
    began = time.perf_counter()
    reply, reply_rate = synthesize_all(REPLY)
    tts_s = time.perf_counter() - began
    return Capacity(threads=threads, speech_s=len(pcm) / 2 / 16000, stt_s=stt_s,
                    reply_s=len(reply) / 2 / reply_rate, tts_s=tts_s)
