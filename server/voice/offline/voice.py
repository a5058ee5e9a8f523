"""What a process holds for the offline voice: the inference pool and which models it uses.

Models load lazily: the first voice session to start asks for them (`warm`), the load runs in
the pool, and that session is told the voice is warming up. Loading at app start would cost every
process (tests, workers, a server with keys that never speaks offline) a second of CPU and the
models' memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.voice.offline import models
from server.voice.offline.pool import InferencePool


@dataclass
class OfflineVoice:
    pool: InferencePool
    stt: bool  # Whisper recognises speech
    tts: bool  # Piper speaks (False: eSpeak NG or a provider does)
    _warming: bool = field(default=False, init=False)

    def _needed(self) -> list[models._Once[object]]:
        needed: list[models._Once[object]] = []
        if self.stt:
            needed.append(models.whisper)
        if self.tts:
            needed.append(models.piper)
        return needed

    @property
    def ready(self) -> bool:
        return all(model.loaded for model in self._needed())

    def warm(self) -> bool:
        """Starts loading what is missing (once); True when everything was already loaded."""
        if self.ready:
            return True
        if not self._warming:
            self._warming = True
            for model in self._needed():
                self.pool.submit(model.get)
        return False

    def busy(self, own_jobs: int = 0) -> bool:
        """Every inference thread is taken by other work than the caller's own `own_jobs`: a new
        turn's model calls will wait in the queue."""
        return self.pool.jobs - own_jobs >= self.pool.workers
