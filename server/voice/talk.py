"""`sparring talk --wav FILE`: stream a WAV to a voice session in real time, print what happens,
save the reply audio. Built on `server.voice.client`, like the tests and the benchmark."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from server.voice.audio import read_wav, resample, silence, to_wav
from server.voice.client import VoiceClient
from server.voice.protocol import ServerEvent


@dataclass(frozen=True)
class TalkOptions:
    url: str
    wav: Path
    out: Path
    mode: str = "roleplay"
    persona_id: str | None = None
    token: str | None = None
    email: str | None = None
    password: str | None = None
    reply_wait_s: float = 30.0


def login(url: str, email: str, password: str) -> str:
    request = urllib.request.Request(  # noqa: S310 (the URL is the user's own server)
        url.rstrip("/") + "/api/v1/auth/login", data=json.dumps({"email": email, "password": password}).encode(),
        headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return str(json.load(response)["access_token"])


async def talk(options: TalkOptions) -> int:
    token = options.token or login(options.url, options.email or "", options.password or "")
    pcm, rate = read_wav(options.wav.read_bytes())
    pcm = resample(pcm, rate, 16000) + silence(1000, 16000)
    client = await VoiceClient.connect(options.url, token)
    ready = await client.start(options.mode, persona_id=options.persona_id)
    print(f"session {ready['session_id']} (offline: {ready['offline']})")
    printed = [0]
    printer = asyncio.get_running_loop().create_task(_print_events(client, printed))
    await client.stream(pcm)
    try:
        await client.wait_for(ServerEvent.metrics, wait_s=options.reply_wait_s)
    except TimeoutError:
        print("no reply arrived in time")
    await client.send({"type": "end"})
    await client.closed(wait_s=120)  # the server scores the session before it closes
    printer.cancel()
    _print_new(client, printed[0])
    audio = b"".join(bytes(chunks) for key, chunks in client.audio.items() if key)
    options.out.write_bytes(to_wav(audio, 16000))
    print(f"saved {len(audio) / 32000:.1f} s of reply audio to {options.out}")
    return 0


async def _print_events(client: VoiceClient, printed: list[int]) -> None:
    while True:
        printed[0] = _print_new(client, printed[0])
        await asyncio.sleep(0.05)


def _print_new(client: VoiceClient, shown: int) -> int:
    for received in client.log[shown:]:
        event = received.event
        if event is None:
            continue
        if event["type"] == ServerEvent.transcript.value:
            print(f"you:  {event['text']}")
        elif event["type"] == ServerEvent.audio_end.value:
            text = "".join(e["text"] for e in client.events([ServerEvent.response_delta.value])
                           if e["message_id"] == event["message_id"])
            print(f"ai:   {text}")
        elif event["type"] in (ServerEvent.metrics.value, ServerEvent.error.value,
                               ServerEvent.interrupted.value, ServerEvent.session_ended.value):
            print(f"{event['type']}: {json.dumps({k: v for k, v in event.items() if k != 'type'})}")
    return len(client.log)
