"""The recorder and the mixer on their own: clips, their timeline, the caps; a fake clock."""

from __future__ import annotations

import asyncio
import io
import uuid
import wave

import numpy as np
import pytest

from server.recording.mixer import ClipInfo, mixed_wav
from server.recording.models import Side
from server.voice.recorder import Clip, Recorder


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tone(ms: int, rate: int = 16000, value: int = 1000) -> bytes:
    return np.full(rate * ms // 1000, value, dtype=np.int16).tobytes()


def recorder(clock: Clock, out: list[Clip], clip_max_s: float = 60, max_s: float = 1800) -> Recorder:
    return Recorder(out.extend, input_rate=16000, output_rate=24000, clock=clock, clip_max_s=clip_max_s,
                    max_s=max_s)


def test_the_microphone_is_one_track_cut_at_turns_and_gaps() -> None:
    clock, out = Clock(), list[Clip]()
    rec = recorder(clock, out)
    frame = tone(20)
    for _ in range(50):  # one second, arriving in real time
        clock.now += 0.02
        rec.user_audio([frame])
    rec.turn_done()
    for _ in range(25):  # continues where it stopped, in the next clip
        clock.now += 0.02
        rec.user_audio([frame])
    clock.now += 2.0  # the client stopped sending for two seconds
    rec.user_audio([frame, frame])
    rec.close()
    assert [(c.side, c.offset_ms, c.duration_ms) for c in out] == [
        (Side.user, 0, 1000), (Side.user, 1000, 500), (Side.user, 3460, 40)]
    assert all(c.sample_rate == 16000 for c in out)


async def test_the_reply_is_recorded_as_sent_and_a_cancelled_send_is_not() -> None:
    clock, out = Clock(), list[Clip]()
    rec = recorder(clock, out)
    sent: list[bytes] = []
    gate = asyncio.Event()

    async def send(chunk: bytes) -> None:
        if len(sent) == 2:
            await gate.wait()  # the third send is cut off by a barge-in
        sent.append(chunk)

    message = uuid.uuid4()
    rec.reply_started(message)
    tapped = rec.tap(send)
    chunk = tone(40, 24000)
    await tapped(chunk)
    clock.now += 0.04
    await tapped(chunk)
    async def third() -> None:
        await tapped(chunk)

    task = asyncio.create_task(third())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rec.turn_done()
    assert [(c.side, c.message_id, c.duration_ms, c.sample_rate) for c in out] == [
        (Side.assistant, message, 80, 24000)]


def test_clips_are_capped_and_a_side_stops_at_its_budget() -> None:
    clock, out = Clock(), list[Clip]()
    rec = recorder(clock, out, clip_max_s=0.1, max_s=0.25)
    for _ in range(20):
        clock.now += 0.02
        rec.user_audio([tone(20)])
    rec.close()
    assert [c.duration_ms for c in out] == [100, 100, 50]
    assert [c.offset_ms for c in out] == [0, 100, 200]
    assert rec.user.truncated


async def test_the_mix_lays_each_clip_at_its_offset_and_resamples_to_the_highest_rate() -> None:
    user = Clip(Side.user, 16000, 0, tone(1000, 16000, 1000), None)
    reply = Clip(Side.assistant, 24000, 7500, tone(1000, 24000, 2000), None)
    stored = {uuid.uuid4(): user, uuid.uuid4(): reply}
    infos = [ClipInfo(i, c.sample_rate, c.offset_ms, c.duration_ms) for i, c in stored.items()]

    async def load(clip_id: uuid.UUID) -> bytes:
        return stored[clip_id].pcm

    data = b"".join([part async for part in mixed_wav(infos, load)])
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getframerate() == 24000 and wav.getnframes() == 8500 * 24
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert abs(int(samples[12000]) - 1000) < 20  # inside the user's second
    assert samples[3 * 24000] == 0  # silence between
    assert int(samples[8 * 24000]) == 2000  # inside the reply, in the second window
    assert len(data) == 44 + 8500 * 24 * 2
