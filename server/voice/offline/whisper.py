"""Offline speech recognition: faster-whisper with Whisper tiny.en, int8 on CPU.

Each call transcribes one segment (the endpointer cuts turns at short pauses, so segments are a
few seconds long). Whisper pads every input to a 30 s window, so a call costs about the same for
a short "uh-huh" as for a sentence; that cost is why segments are sent while the user talks.
"""

from __future__ import annotations

import numpy as np

from server.voice.audio import resample
from server.voice.offline import models
from server.voice.offline.pool import InferencePool
from server.voice.stt import SttError

WHISPER_RATE = 16000
# Silence around each segment: the endpointer may cut a segment at a short pause right after a
# word, and Whisper drops or garbles a word that touches the edge of its input (dealership set in
# eSpeak's voice: WER 11.1 % without, 9.3 % with 300 ms); with 100 ms, eSpeak's "mm-hmm" came
# back as "And the end of the video.", with 300 ms as "Mm mm."
_PAD = np.zeros(WHISPER_RATE * 300 // 1000, dtype=np.float32)


def transcribe_pcm(pcm: bytes, sample_rate: int) -> str:
    """PCM16 mono -> text, on the calling thread (the pool's)."""
    model = models.whisper.get().model
    pcm = resample(pcm, sample_rate, WHISPER_RATE)
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
    samples = np.concatenate([_PAD, samples, _PAD])
    # Greedy decoding and no carried context: each segment stands alone, and beam search costs
    # several times more for no gain on one short utterance.
    segments, _ = model.transcribe(samples, language="en", beam_size=1, condition_on_previous_text=False,
                                   without_timestamps=True, vad_filter=False)
    return " ".join(segment.text.strip() for segment in segments).strip()


class WhisperTranscriber:
    offline = True
    name = models.WHISPER

    def __init__(self, pool: InferencePool) -> None:
        self._pool = pool

    async def transcribe(self, pcm: bytes, sample_rate: int) -> str:
        try:
            return await self._pool.run(transcribe_pcm, pcm, sample_rate)
        except Exception as exc:
            # A model that cannot load or run fails this turn, as a provider would; the session goes on.
            raise SttError(f"offline recognition failed: {exc.__class__.__name__}", retryable=False) from exc
