"""`sparring talk --wav FILE`: stream a WAV to a voice session in real time, print what happens,
save the reply audio. Built on `server.voice.client`, like the tests and the benchmark.

Whom to talk to: `--persona` takes a persona's id or its name (as the server lists them,
`--list-personas`); the mode follows from the persona (Adam trains, customers role-play). With
neither, it trains with Adam. Anything the server refuses ends the command with one line
(`TalkError`), never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets

from server.voice.audio import read_wav, resample, to_wav
from server.voice.client import Moved, VoiceClient, VoiceError
from server.voice.protocol import ServerEvent

MODES = {"trainer": "training", "customer": "roleplay"}  # a persona's kind -> the mode it plays in


class TalkError(Exception):
    """What went wrong, in one line for the user."""


@dataclass(frozen=True)
class TalkOptions:
    url: str
    wav: Path | None
    out: Path
    mode: str | None = None  # None: the persona's mode, or training (with Adam) without a persona
    persona: str | None = None  # an id or a name
    token: str | None = None
    email: str | None = None
    password: str | None = None
    list_personas: bool = False
    reply_wait_s: float = 30.0
    start_wait_s: float = 30.0


def _api(url: str, path: str, what: str, *, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 (the URL is the user's own server)
        url.rstrip("/") + path, data=json.dumps(body).encode() if body is not None else None, headers=headers,
        method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise TalkError(f"{what} failed: {_error_message(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise TalkError(f"cannot reach the server at {url}: {reason}") from None


def _error_message(exc: urllib.error.HTTPError) -> str:
    """The server's own message from its one error shape, else the HTTP status."""
    try:
        return str(json.loads(exc.read())["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return f"HTTP {exc.code} {exc.reason}"


def login(url: str, email: str, password: str) -> str:
    return str(_api(url, "/api/v1/auth/login", "sign-in", body={"email": email, "password": password})["access_token"])


def fetch_personas(url: str, token: str) -> list[dict[str, Any]]:
    """The personas this account can practise with (built-ins its dealership has not disabled,
    and the dealership's own)."""
    return list(_api(url, "/api/v1/personas", "listing the personas", token=token)["items"])


def persona_lines(personas: list[dict[str, Any]]) -> list[str]:
    width = max((len(str(p["id"])) for p in personas), default=0)
    lines = []
    for persona in personas:
        line = f"  {persona['id']:<{width}}  {persona['name']} ({MODES.get(persona['kind'], persona['kind'])})"
        lines.append(f"{line}: {persona['summary']}" if persona.get("summary") else line)
    return lines


def choose(personas: list[dict[str, Any]], wanted: str | None, mode: str | None) -> tuple[dict[str, Any] | None, str]:
    """The persona `wanted` names (its id, or its name in any case) and the mode to start in."""
    if wanted is None:
        return None, mode or "training"
    key = " ".join(wanted.split()).casefold()
    found = [p for p in personas if str(p["id"]).casefold() == key] or \
            [p for p in personas if " ".join(str(p["name"]).split()).casefold() == key]
    if len(found) != 1:
        choices = ", ".join(f"{p['name']} ({p['id']})" for p in personas)
        why = "several personas are called" if found else "no persona"
        raise TalkError(f"{why} {wanted!r}: give one of {choices} (sparring talk --list-personas)")
    persona = found[0]
    own_mode = MODES.get(persona["kind"], "roleplay")
    if mode is not None and mode != own_mode:
        raise TalkError(f"{persona['name']} is a {own_mode} persona: use --mode {own_mode}, or leave --mode out")
    return persona, own_mode


async def talk(options: TalkOptions) -> int:
    token = options.token or login(options.url, options.email or "", options.password or "")
    if options.list_personas:
        print("\n".join(persona_lines(fetch_personas(options.url, token))))
        return 0
    if options.wav is None:
        raise TalkError("give --wav FILE (the speech to send), or --list-personas")
    persona, mode = choose(fetch_personas(options.url, token) if options.persona else [], options.persona,
                           options.mode)
    try:
        pcm, rate = read_wav(options.wav.read_bytes())
    except (OSError, ValueError) as exc:
        raise TalkError(f"cannot read {options.wav}: {exc}") from None
    pcm = resample(pcm, rate, 16000)
    talker = _Talker(options.url, token)
    try:
        ready = await talker.open(mode, persona["id"] if persona else None, options.start_wait_s)
        return await _converse(talker, ready, mode, pcm, options)
    except VoiceError as exc:
        raise TalkError(f"the server refused the voice session: {exc.message}") from None
    except TimeoutError:
        raise TalkError(f"the server at {options.url} did not answer in time") from None
    except websockets.ConnectionClosed as exc:
        said = talker.client.events([ServerEvent.error.value]) if talker.client is not None else []
        reason = said[-1]["message"] if said else (exc.rcvd.reason if exc.rcvd and exc.rcvd.reason else str(exc))
        raise TalkError(f"the server closed the voice session: {reason}") from None
    except (OSError, websockets.WebSocketException) as exc:
        raise TalkError(f"cannot open a voice session at {options.url}: {exc}") from None
    finally:
        if talker.client is not None:
            await talker.client.close()


_MOVES = 5  # a new socket may land on the draining instance again before the balancer notices


class _Talker:
    """The session across sockets: when the server drains (`reconnect`), a new socket resumes it
    with its session_id (the balancer sends it to another instance) and the talk carries on."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.client: VoiceClient | None = None
        self.session_id: str | None = None
        self.mode = "training"
        self.persona_id: str | None = None
        self.wait_s = 30.0
        self.moves = 0
        self.earlier: list[VoiceClient] = []  # sockets already left, for their events and audio

    async def open(self, mode: str, persona_id: str | None, wait_s: float) -> dict[str, Any]:
        self.mode, self.persona_id, self.wait_s = mode, persona_id, wait_s
        return await self._start(None)

    async def move(self, event: dict[str, Any]) -> None:
        """`reconnect`: open a new socket at once and resume the session there."""
        self.session_id = str(event.get("session_id") or self.session_id)
        print(f"reconnect: {event.get('reason')}; resuming session {self.session_id}")
        self.moves += 1
        await self._start(self.session_id)

    async def _start(self, session_id: str | None) -> dict[str, Any]:
        """A new socket and `start`; again while it lands on an instance that is draining."""
        for _ in range(_MOVES):
            if self.client is not None:
                await self.client.close()
                self.earlier.append(self.client)
                self.client = None
            try:
                self.client = await VoiceClient.connect(self.url, self.token)
            except websockets.InvalidStatus as refused:
                if refused.response.status_code != 503:
                    raise
                await asyncio.sleep(0.5)  # an instance stopping refused the socket (no balancer in front)
                continue
            try:
                ready = await self.client.start(self.mode, persona_id=self.persona_id, session_id=session_id,
                                                wait_s=self.wait_s)
            except Moved as moved:
                session_id = moved.event.get("session_id") or session_id
                print(f"reconnect: {moved.event.get('reason')}; starting again on another server")
                continue
            self.session_id = str(ready["session_id"])
            return ready
        raise TalkError("every server asked the session to move elsewhere (all draining?)")

    async def moved_or_raise(self, closed: websockets.ConnectionClosed) -> None:
        """The socket closed under us: if the server said `reconnect` first, move; else it is an error."""
        assert self.client is not None
        await self.client.closed(wait_s=5)  # every message it sent before closing has been read
        told = self.client.events([ServerEvent.reconnect.value])
        if not told:
            raise closed
        await self.move(told[-1])

    def clients(self) -> list[VoiceClient]:
        return [*self.earlier, *([self.client] if self.client is not None else [])]


async def _converse(talker: _Talker, ready: dict[str, Any], mode: str, pcm: bytes, options: TalkOptions) -> int:
    who = ready.get("persona_name") or "the persona"
    print(f"{'Training with' if mode == 'training' else 'Role-play with'} {who} ({ready.get('persona_id')}), "
          f"session {ready['session_id']} (offline: {ready['offline']})")
    printed: dict[int, int] = {}
    printer = asyncio.get_running_loop().create_task(_print_events(talker, printed))
    try:
        for _ in range(_MOVES):  # a drain before the turn was heard whole: say it again on the new instance
            assert talker.client is not None
            try:  # the microphone stays open after the speech, so the turn can end
                event = await talker.client.say(pcm, (ServerEvent.metrics, ServerEvent.reconnect),
                                                wait_s=options.reply_wait_s)
            except websockets.ConnectionClosed as closed:
                await talker.moved_or_raise(closed)
                continue
            except TimeoutError:
                print("no reply arrived in time")
                break
            if event["type"] == ServerEvent.reconnect.value:
                await talker.move(event)
                continue
            break
        for _ in range(_MOVES):
            assert talker.client is not None
            try:
                await talker.client.send({"type": "end"})
                # The server scores the session before it closes; a drain meanwhile: end it on the next.
                event = await talker.client.wait_for_any((ServerEvent.session_ended, ServerEvent.reconnect),
                                                         wait_s=120)
            except websockets.ConnectionClosed as closed:
                await talker.moved_or_raise(closed)
                continue
            if event["type"] == ServerEvent.session_ended.value:
                await talker.client.closed(wait_s=30)
                break
            await talker.move(event)
    finally:
        printer.cancel()
        _print_all(talker, printed)
    audio = b"".join(bytes(chunks) for client in talker.clients() for key, chunks in client.audio.items() if key)
    options.out.write_bytes(to_wav(audio, 16000))
    print(f"saved {len(audio) / 32000:.1f} s of reply audio to {options.out}")
    return 0


async def _print_events(talker: _Talker, printed: dict[int, int]) -> None:
    while True:
        _print_all(talker, printed)
        await asyncio.sleep(0.05)


def _print_all(talker: _Talker, printed: dict[int, int]) -> None:
    for client in talker.clients():
        printed[id(client)] = _print_new(client, printed.get(id(client), 0))


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
        elif event["type"] in (ServerEvent.metrics.value, ServerEvent.error.value, ServerEvent.reconnect.value,
                               ServerEvent.interrupted.value, ServerEvent.session_ended.value):
            print(f"{event['type']}: {json.dumps({k: v for k, v in event.items() if k != 'type'})}")
    return len(client.log)
