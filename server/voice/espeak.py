"""eSpeak NG through `espeakng-loader` (the library and its voice data ship in the wheel).

The C library keeps global state and is not re-entrant, so one lock serialises synthesis;
it runs ~50x faster than real time, so a sentence costs a few milliseconds of a worker thread.
Its synth callback also reports where each word starts and each clause ends in the audio:
those events, not an estimate, time the words of the offline voice.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass, field
from typing import Any

import espeakng_loader

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_INITIALIZE_DONT_EXIT = 0x8000
_RATE = 1

# espeak_EVENT_TYPE values (speak_lib.h)
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_SENTENCE = 2
_EVENT_END = 5


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(slots=True)
class Spoken:
    pcm: bytes
    sample_rate: int
    word_marks: list[tuple[int, float]] = field(default_factory=list)  # (0-based character, start ms)
    clause_ends: list[float] = field(default_factory=list)  # ms


class Espeak:
    _lock = threading.Lock()
    _lib: ctypes.CDLL | None = None
    _sample_rate = 0
    _chunks: list[bytes] = []
    _marks: list[tuple[int, float]] = []
    _ends: list[float] = []
    _callback: Any = None

    @classmethod
    def _load(cls) -> ctypes.CDLL:
        if cls._lib is None:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            lib.espeak_Initialize.restype = ctypes.c_int
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                         espeakng_loader.get_data_path().encode(), _INITIALIZE_DONT_EXIT)
            if rate <= 0:
                raise RuntimeError("espeak-ng failed to initialise")
            cls._callback = _CALLBACK(cls._collect)  # kept referenced: C holds the pointer
            lib.espeak_SetSynthCallback(cls._callback)
            lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                         ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            cls._sample_rate = rate
            cls._lib = lib
        return cls._lib

    @classmethod
    def _collect(cls, wav: ctypes._Pointer[ctypes.c_short], count: int, events: ctypes._Pointer[_Event]) -> int:
        if wav and count > 0:
            cls._chunks.append(ctypes.string_at(wav, count * 2))
        index = 0
        while events and (item := events[index]).type != _EVENT_LIST_TERMINATED:
            if item.type == _EVENT_WORD:
                cls._marks.append((item.text_position - 1, float(item.audio_position)))
            elif item.type in (_EVENT_END, _EVENT_SENTENCE):
                cls._ends.append(float(item.audio_position))
            index += 1
        return 0

    @classmethod
    def speak(cls, text: str, *, voice: str = "en-us", words_per_minute: int = 175) -> Spoken:
        """text -> PCM16 mono at eSpeak's rate (22050 Hz) with the timing of its words."""
        with cls._lock:
            lib = cls._load()
            lib.espeak_SetVoiceByName(voice.encode())
            lib.espeak_SetParameter(_RATE, words_per_minute, 0)
            cls._chunks, cls._marks, cls._ends = [], [], []
            data = text.encode("utf-8") + b"\0"
            status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if status != 0:
                raise RuntimeError(f"espeak-ng synthesis failed (status {status})")
            spoken = Spoken(b"".join(cls._chunks), cls._sample_rate, cls._marks, cls._ends)
            cls._chunks, cls._marks, cls._ends = [], [], []
            return spoken

    @classmethod
    def synthesize(cls, text: str, *, voice: str = "en-us", words_per_minute: int = 175) -> tuple[bytes, int]:
        """text -> (PCM16 mono, sample rate of eSpeak, 22050 Hz)."""
        spoken = cls.speak(text, voice=voice, words_per_minute=words_per_minute)
        return spoken.pcm, spoken.sample_rate
