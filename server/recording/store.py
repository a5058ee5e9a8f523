"""Where voice recordings come from and go: the dealership's setting, read once per connection,
and the background writes of finished clips.

`RecordingStore.recorder(...)` answers a `Recorder` when the dealership records audio and None
otherwise (then the voice session buffers nothing). A resumed session's recorder continues the
timeline after the audio already stored, so one session reads as one recording.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.models import Dealership
from server.recording.models import VoiceRecording
from server.tasks import TaskSupervisor
from server.voice.recorder import Clip, Recorder

log = logging.getLogger(__name__)

RESUME_GAP_MS = 500  # silence between a dropped connection's audio and the resumed one's


@dataclass(frozen=True, slots=True)
class Owner:
    dealership_id: uuid.UUID
    session_id: uuid.UUID
    user_id: uuid.UUID


class RecordingStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], tasks: TaskSupervisor, *,
                 clip_max_s: float = 60.0, max_s: float = 1800.0) -> None:
        self._sessionmaker = sessionmaker
        self._tasks = tasks
        self._clip_max_s = clip_max_s
        self._max_s = max_s

    async def recorder(self, owner: Owner, *, input_rate: int, output_rate: int) -> Recorder | None:
        async with self._sessionmaker() as db:
            settings = (await db.execute(
                select(Dealership.settings).where(Dealership.id == owner.dealership_id))).scalar_one_or_none()
            if not settings or settings.get("record_audio") is not True:
                return None
            end = (await db.execute(
                select(func.max(VoiceRecording.offset_ms + VoiceRecording.duration_ms))
                .where(VoiceRecording.session_id == owner.session_id))).scalar_one_or_none()
        base_ms = 0 if end is None else int(end) + RESUME_GAP_MS
        return Recorder(lambda clips: self.save(owner, clips), input_rate=input_rate, output_rate=output_rate,
                        base_ms=base_ms, clip_max_s=self._clip_max_s, max_s=self._max_s)

    def save(self, owner: Owner, clips: list[Clip]) -> None:
        self._tasks.spawn("voice-recording", self.write(owner, clips))

    async def write(self, owner: Owner, clips: list[Clip]) -> None:
        rows = [VoiceRecording(dealership_id=owner.dealership_id, session_id=owner.session_id,
                               user_id=owner.user_id, message_id=clip.message_id, side=clip.side,
                               sample_rate=clip.sample_rate, offset_ms=clip.offset_ms,
                               duration_ms=clip.duration_ms, pcm=clip.pcm)
                for clip in clips if clip.pcm]
        if not rows:
            return
        try:
            async with self._sessionmaker() as db, db.begin():
                db.add_all(rows)
        except IntegrityError:
            # The session was never stored (no turn was taken) or was deleted meanwhile: there is
            # nothing to attach the audio to, and the transaction wrote nothing.
            log.info("voice recording dropped: its session is not stored",
                     extra={"session_id": str(owner.session_id)})
