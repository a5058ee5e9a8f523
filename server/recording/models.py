"""The `voice_recording` table: the audio of a voice session, both sides, in clips.

A clip is a stretch of one side's audio (raw PCM16 mono little-endian at `sample_rate`) placed at
`offset_ms` on the session's recording timeline, which runs on across resumed connections. The
user's side is the microphone as received, cut at the end of each turn (and at gaps or the clip
cap); the assistant's side is each reply's audio exactly as it was sent, so after a barge-in it
ends where sending stopped. Rows go with their session, user and dealership (FK cascade).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Integer, LargeBinary, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base


class Side(enum.StrEnum):
    user = "user"
    assistant = "assistant"


class VoiceRecording(Base):
    __tablename__ = "voice_recording"
    __table_args__ = (Index("ix_voice_recording_session_offset", "session_id", "offset_ms"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversation_session.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"))
    # The assistant message of the turn the clip belongs to. No foreign key: after a barge-in the
    # engine may commit the trimmed answer after the clip is written.
    message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    side: Mapped[Side] = mapped_column(Enum(Side, name="recording_side", native_enum=False, length=16))
    sample_rate: Mapped[int] = mapped_column(Integer)
    offset_ms: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    # Loaded only when the audio itself is asked for: listings stay small.
    pcm: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
