"""/sessions/{id}/recording(s): the audio of a voice session, kept when its dealership records audio.

Who may listen is who may read the session (`server.tenancy.Scope`: the user their own, an admin
their dealership's); anything else, or a session without audio, answers 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import undefer
from starlette.responses import Response, StreamingResponse

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Output
from server.conversation.models import ConversationSession
from server.errors import NotFound
from server.recording.mixer import ClipInfo, mix_rate, mixed_wav, total_samples, wav_header
from server.recording.models import Side, VoiceRecording
from server.voice.audio import SAMPLE_WIDTH, to_wav

TAG = "sessions"
WAV = "audio/wav"
# The audio is personal data: never cached by the browser or anything between.
NO_STORE = {"Cache-Control": "private, no-store"}


class RecordingOut(Output):
    id: uuid.UUID
    side: Side
    message_id: uuid.UUID | None
    sample_rate: int
    offset_ms: int
    duration_ms: int
    url: str
    created_at: datetime


class RecordingList(Output):
    items: list[RecordingOut]
    url: str  # the whole session, both sides mixed
    total_ms: int


def session_recording_url(session_id: uuid.UUID) -> str:
    return f"/api/v1/sessions/{session_id}/recording"


async def recording_url(ctx: Ctx, session_id: uuid.UUID) -> str | None:
    """The whole-session recording's URL when the session has audio (call after the session's own
    scope check)."""
    query = ctx.scope.select(VoiceRecording, VoiceRecording.session_id == session_id).limit(1)
    found = (await ctx.db.execute(query.with_only_columns(VoiceRecording.id))).first()
    return session_recording_url(session_id) if found else None


async def _clips(ctx: Ctx, session_id: uuid.UUID) -> list[VoiceRecording]:
    await ctx.scope.get(ConversationSession, session_id)
    query = ctx.scope.select(VoiceRecording, VoiceRecording.session_id == session_id)
    rows = list((await ctx.db.execute(query.order_by(VoiceRecording.offset_ms, VoiceRecording.side))).scalars())
    if not rows:
        raise NotFound("This session has no recording.")
    return rows


@endpoint("GET", "/sessions/{session_id:uuid}/recordings", summary="A voice session's recorded clips",
          tag=TAG, response=RecordingList, errors=(404,))
async def list_recordings(ctx: Ctx, session_id: uuid.UUID) -> RecordingList:
    rows = await _clips(ctx, session_id)
    items = [RecordingOut(id=r.id, side=r.side, message_id=r.message_id, sample_rate=r.sample_rate,
                          offset_ms=r.offset_ms, duration_ms=r.duration_ms, created_at=r.created_at,
                          url=f"/api/v1/sessions/{session_id}/recordings/{r.id}") for r in rows]
    return RecordingList(items=items, url=session_recording_url(session_id),
                         total_ms=max(r.offset_ms + r.duration_ms for r in rows))


@endpoint("GET", "/sessions/{session_id:uuid}/recordings/{recording_id:uuid}",
          summary="One recorded clip as a WAV file", tag=TAG, errors=(404,))
async def get_clip(ctx: Ctx, session_id: uuid.UUID, recording_id: uuid.UUID) -> Response:
    await ctx.scope.get(ConversationSession, session_id)
    query = ctx.scope.select(VoiceRecording, VoiceRecording.id == recording_id,
                             VoiceRecording.session_id == session_id).options(undefer(VoiceRecording.pcm))
    row = (await ctx.db.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound("VoiceRecording not found.")
    return Response(to_wav(row.pcm, row.sample_rate), media_type=WAV, headers=NO_STORE)


@endpoint("GET", "/sessions/{session_id:uuid}/recording",
          summary="The whole voice session, both sides mixed, as a WAV file", tag=TAG, errors=(404,))
async def get_recording(ctx: Ctx, session_id: uuid.UUID) -> StreamingResponse:
    rows = await _clips(ctx, session_id)
    clips = [ClipInfo(r.id, r.sample_rate, r.offset_ms, r.duration_ms) for r in rows]
    sessionmaker = ctx.state.sessionmaker

    async def load(clip_id: uuid.UUID) -> bytes:
        # The body streams after the request's own database session has closed; the ids come
        # from the scoped listing above.
        async with sessionmaker() as db:
            query = select(VoiceRecording.pcm).where(VoiceRecording.id == clip_id)
            pcm = (await db.execute(query)).scalar_one_or_none()
        return bytes(pcm) if pcm is not None else b""  # deleted since the listing: silence

    disposition = f'inline; filename="session-{session_id}.wav"'
    size = len(wav_header(1, 0)) + total_samples(clips, mix_rate(clips)) * SAMPLE_WIDTH
    return StreamingResponse(mixed_wav(clips, load), media_type=WAV, headers={
        **NO_STORE, "Content-Disposition": disposition, "Content-Length": str(size)})


ENDPOINTS = [list_recordings, get_clip, get_recording]
