import { describe, expect, it } from "vitest";
import { VoiceClient, type SocketLike, type VoiceState } from "./client";
import { CloseCode } from "./protocol";

/** A scripted stand-in for the browser's WebSocket (the network boundary). */
class ScriptedSocket implements SocketLike {
  binaryType: BinaryType = "blob";
  readyState = 0;
  sent: (string | ArrayBuffer)[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closedWith: number | undefined;

  constructor(readonly url: string) {}
  send(data: string | ArrayBuffer): void {
    this.sent.push(data);
  }
  close(code?: number): void {
    this.closedWith = code;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  server(message: object | ArrayBuffer): void {
    const data = message instanceof ArrayBuffer ? message : JSON.stringify(message);
    this.onmessage?.({ data } as MessageEvent);
  }
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason } as CloseEvent);
  }
  json(): { type: string; [k: string]: unknown }[] {
    return this.sent.filter((d): d is string => typeof d === "string").map((d) => JSON.parse(d));
  }
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

function setup(overrides: Partial<ConstructorParameters<typeof VoiceClient>[0]> = {}) {
  const sockets: ScriptedSocket[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const states: VoiceState[] = [];
  const client = new VoiceClient({
    url: "ws://sparring.test/api/v1/voice/live",
    mode: "roleplay",
    personaId: "p-1",
    outputSampleRate: 24000,
    getToken: async () => "token-1",
    openSocket: (url) => {
      const socket = new ScriptedSocket(url);
      sockets.push(socket);
      return socket;
    },
    schedule: (fn, ms) => timers.push({ fn, ms }),
    ...overrides,
  });
  client.on("state", (state) => states.push(state));
  return { client, sockets, timers, states };
}

async function live(s: ReturnType<typeof setup>, sessionId = "s-1") {
  s.client.connect();
  const socket = s.sockets.at(-1)!;
  socket.open();
  await flush();
  socket.server({ type: "ready", session_id: sessionId, offline: { stt: true, llm: true, tts: true } });
  return socket;
}

describe("VoiceClient", () => {
  it("authenticates with the first message, then starts with the audio formats", async () => {
    const s = setup();
    const socket = await live(s);
    const [auth, start] = socket.json();
    expect(socket.url).not.toContain("token");
    expect(auth).toEqual({ type: "auth", token: "token-1" });
    expect(start).toEqual({
      type: "start", mode: "roleplay", persona_id: "p-1",
      input_audio: { encoding: "pcm_s16le", sample_rate: 16000, channels: 1 },
      output_audio: { encoding: "pcm_s16le", sample_rate: 24000 },
    });
    expect(s.states).toEqual(["connecting", "starting", "live"]);
    expect(s.client.sessionId).toBe("s-1");
  });

  it("starts a scenario with its id, and resumes it by the session id alone", async () => {
    const s = setup({ personaId: undefined, scenarioId: "sc-1" });
    const socket = await live(s, "s-7");
    expect(socket.json()[1]).toMatchObject({ type: "start", mode: "roleplay", scenario_id: "sc-1" });
    expect(socket.json()[1]).not.toHaveProperty("persona_id");
    socket.drop(1006);
    s.timers[0]!.fn();
    const second = s.sockets[1]!;
    second.open();
    await flush();
    expect(second.json()[1]).toMatchObject({ type: "start", session_id: "s-7" });
    expect(second.json()[1]).not.toHaveProperty("scenario_id");
  });

  it("sends no audio before the session is ready", async () => {
    const s = setup();
    s.client.connect();
    const socket = s.sockets[0]!;
    socket.open();
    await flush();
    expect(s.client.sendAudio(new ArrayBuffer(640))).toBe(false);
    socket.server({ type: "ready", session_id: "s-1", offline: { stt: false, llm: false, tts: false } });
    expect(s.client.sendAudio(new ArrayBuffer(640))).toBe(true);
    expect(socket.sent.filter((d) => d instanceof ArrayBuffer)).toHaveLength(1);
  });

  it("routes binary frames to the message announced by audio.start", async () => {
    const s = setup();
    const socket = await live(s);
    const heard: [string, number, number][] = [];
    s.client.on("audio", (id, pcm, rate) => heard.push([id, pcm.byteLength, rate]));
    socket.server(new ArrayBuffer(10)); // before audio.start: nowhere to go
    socket.server({ type: "audio.start", message_id: "m-1", sample_rate: 24000 });
    socket.server(new ArrayBuffer(960));
    expect(heard).toEqual([["m-1", 960, 24000]]);
  });

  it("flushes on interrupted and drops late frames of the interrupted reply", async () => {
    const s = setup();
    const socket = await live(s);
    const interrupted: string[] = [];
    let frames = 0;
    s.client.on("interrupted", (id, heardText) => interrupted.push(`${id}:${heardText}`));
    s.client.on("audio", () => (frames += 1));
    socket.server({ type: "audio.start", message_id: "m-1", sample_rate: 16000 });
    socket.server(new ArrayBuffer(640));
    socket.server({ type: "interrupted", message_id: "m-1", heard_text: "Well, the price" });
    socket.server(new ArrayBuffer(640));
    expect(interrupted).toEqual(["m-1:Well, the price"]);
    expect(frames).toBe(1);
  });

  it("passes playback.pause and playback.resume on, and keeps routing audio while paused", async () => {
    const s = setup();
    const socket = await live(s);
    const seen: string[] = [];
    let frames = 0;
    s.client.on("paused", (id, paused) => seen.push(`${id}:${paused ? "pause" : "resume"}`));
    s.client.on("audio", () => (frames += 1));
    socket.server({ type: "audio.start", message_id: "m-1", sample_rate: 16000 });
    socket.server({ type: "playback.pause", message_id: "m-1", at_ms: 800 });
    socket.server(new ArrayBuffer(640)); // generated while paused: kept for the resume
    socket.server({ type: "playback.resume", message_id: "m-1", text: "Uh-huh." });
    expect(seen).toEqual(["m-1:pause", "m-1:resume"]);
    expect(frames).toBe(1);
  });

  it("reconnects after a drop and resumes the same session", async () => {
    const s = setup();
    await live(s, "s-42");
    s.sockets[0]!.drop(1006);
    expect(s.client.state).toBe("reconnecting");
    expect(s.timers).toHaveLength(1);
    s.timers[0]!.fn();
    const second = s.sockets[1]!;
    second.open();
    await flush();
    expect(second.json()[1]).toMatchObject({ type: "start", session_id: "s-42" });
    second.server({ type: "ready", session_id: "s-42", offline: { stt: true, llm: true, tts: true } });
    expect(s.client.state).toBe("live");
  });

  it("asks for a face in start (protocol 1.2), and switches face by resuming on a new socket", async () => {
    const s = setup({ avatar: "liveavatar" });
    const first = await live(s, "s-7");
    expect(first.json()[1]).toMatchObject({ type: "start", avatar: { provider: "liveavatar" } });
    s.client.switchAvatar("builtin");
    expect(first.closedWith).toBe(CloseCode.normal);
    first.drop(CloseCode.normal);
    expect(s.client.state).toBe("reconnecting");
    s.timers[0]!.fn();
    const second = s.sockets[1]!;
    second.open();
    await flush();
    expect(second.json()[1]).toMatchObject({ type: "start", session_id: "s-7", avatar: { provider: "builtin" } });
  });

  it("moves at once when a draining server asks it to reconnect, with its session id", async () => {
    const s = setup();
    await live(s, "s-7");
    const first = s.sockets[0]!;
    first.server({ type: "reconnect", reason: "server_draining", session_id: "s-7" });
    first.drop(CloseCode.serviceRestart);
    expect(s.client.state).toBe("reconnecting");
    expect(s.timers).toHaveLength(0); // no backoff: the session is moving, not failing
    const second = s.sockets[1]!;
    second.open();
    await flush();
    expect(second.json()[1]).toMatchObject({ type: "start", session_id: "s-7" });
    second.server({ type: "ready", session_id: "s-7", offline: { stt: true, llm: true, tts: true } });
    expect(s.client.state).toBe("live");
  });

  it("gives up after the backoff runs out", async () => {
    const s = setup({ backoff: (attempt) => (attempt < 1 ? 10 : undefined) });
    await live(s);
    s.sockets[0]!.drop();
    s.timers[0]!.fn();
    s.sockets[1]!.drop();
    expect(s.client.state).toBe("failed");
  });

  it("does not reconnect when authentication is refused", async () => {
    const s = setup();
    s.client.connect();
    s.sockets[0]!.open();
    await flush();
    s.sockets[0]!.drop(CloseCode.authFailed);
    expect(s.client.state).toBe("failed");
    expect(s.timers).toHaveLength(0);
  });

  it("ends: sends end, waits for session.ended, then closes without reconnecting", async () => {
    const s = setup();
    const socket = await live(s);
    s.client.end();
    expect(socket.json().at(-1)).toEqual({ type: "end" });
    expect(s.client.state).toBe("ending");
    socket.server({ type: "session.ended", reason: "client_end", session_id: "s-1" });
    expect(s.client.state).toBe("ended");
    expect(socket.closedWith).toBe(1000);
    socket.drop(1000);
    expect(s.timers).toHaveLength(0);
  });

  it("treats a server-side end (idle timeout) as final", async () => {
    const s = setup();
    const socket = await live(s);
    socket.server({ type: "session.ended", reason: "idle_timeout", session_id: "s-1" });
    socket.drop(1000);
    expect(s.states.at(-1)).toBe("ended");
    expect(s.timers).toHaveLength(0);
  });

  it("sends typed turns, interrupts and playback progress only while live", async () => {
    const s = setup();
    s.client.sendText("too early");
    const socket = await live(s);
    s.client.sendText("What is your budget?");
    s.client.interrupt();
    s.client.reportPlayback("m-1", 1234.4);
    expect(socket.json().slice(2)).toEqual([
      { type: "text", text: "What is your budget?" },
      { type: "interrupt" },
      { type: "playback", message_id: "m-1", played_ms: 1234 },
    ]);
  });

  it("survives a malformed server message", async () => {
    const s = setup();
    const socket = await live(s);
    socket.onmessage?.({ data: "not json" } as MessageEvent);
    expect(s.client.state).toBe("live");
  });
});
