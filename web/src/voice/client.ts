/**
 * The voice session client: a small state machine over one WebSocket, independent of the audio
 * hardware (audio goes in through `sendAudio`, comes out through `onAudio`) so it can be tested
 * with a scripted socket.
 *
 *   idle -> connecting -> starting -> live -> ending -> ended
 *                 ^                    |
 *                 +--- reconnecting <--+   (unexpected drop: resume with the session id, after a backoff;
 *                                           `reconnect` from a draining server: at once)
 *   any -> failed  (auth refused, fatal close code, or reconnect attempts exhausted)
 */

import {
  ClientEvent,
  CloseCode,
  FATAL_CLOSE_CODES,
  INPUT_FORMAT,
  type AvatarProviderName,
  type ClientMessage,
  type Mode,
  type ServerMessage,
  ServerEvent,
} from "./protocol";

export type VoiceState = "idle" | "connecting" | "starting" | "live" | "reconnecting" | "ending" | "ended" | "failed";

export interface SocketLike {
  binaryType: BinaryType;
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

export interface VoiceClientOptions {
  url: string;
  mode: Mode;
  personaId?: string;
  /** A scenario to practise (issue 18): the session records a frozen copy of it. */
  scenarioId?: string;
  assignmentId?: string;
  sessionId?: string;
  outputSampleRate: 16000 | 24000;
  /** Protocol 1.2: ask for a face (face to face); left out, plain voice. */
  avatar?: AvatarProviderName;
  getToken: () => Promise<string>;
  openSocket?: (url: string) => SocketLike;
  /** Delay before reconnect attempt n (0-based); undefined stops trying. */
  backoff?: (attempt: number) => number | undefined;
  schedule?: (fn: () => void, ms: number) => unknown;
}

export interface VoiceEvents {
  state: (state: VoiceState, detail?: string) => void;
  message: (message: ServerMessage) => void;
  audio: (messageId: string, pcm: ArrayBuffer, sampleRate: number) => void;
  interrupted: (messageId: string, heardText: string) => void;
  /** `playback.pause` (true) and `playback.resume` (false): the player must follow at once. */
  paused: (messageId: string, paused: boolean) => void;
}

const OPEN = 1;
const defaultBackoff = (attempt: number): number | undefined => (attempt < 6 ? Math.min(4000, 250 * 2 ** attempt) : undefined);

export class VoiceClient {
  state: VoiceState = "idle";
  sessionId: string | undefined;
  private socket: SocketLike | undefined;
  private attempt = 0;
  /** The server asked us to move (`reconnect`): its close is expected, and we resume at once. */
  private moving = false;
  private audioMessage: { id: string; rate: number } | undefined;
  private avatar: AvatarProviderName | undefined;
  private readonly listeners: { [K in keyof VoiceEvents]: VoiceEvents[K][] } = {
    state: [], message: [], audio: [], interrupted: [], paused: [],
  };

  constructor(private readonly options: VoiceClientOptions) {
    this.sessionId = options.sessionId;
    this.avatar = options.avatar;
  }

  /**
   * Goes on with another face (the LiveAvatar room failed in the browser, which the server cannot
   * see): the session is resumed on a new socket whose `start` asks for `provider`, so the server
   * sends reply audio to this client again. Nothing said is lost (resume).
   */
  switchAvatar(provider: AvatarProviderName): void {
    this.avatar = provider;
    if (this.state === "live") this.socket?.close(CloseCode.normal, "switching the avatar");
  }

  on<K extends keyof VoiceEvents>(event: K, listener: VoiceEvents[K]): () => void {
    const list = this.listeners[event] as VoiceEvents[K][];
    list.push(listener);
    return () => {
      const index = list.indexOf(listener);
      if (index >= 0) list.splice(index, 1);
    };
  }

  connect(): void {
    if (this.state !== "idle" && this.state !== "reconnecting") return;
    if (this.state === "idle") this.setState("connecting");
    const open = this.options.openSocket ?? ((url: string) => new WebSocket(url) as SocketLike);
    const socket = open(this.options.url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => void this.authenticate(socket);
    socket.onmessage = (ev) => this.receive(ev.data as string | ArrayBuffer);
    socket.onclose = (ev) => this.closed(socket, ev.code, ev.reason);
    socket.onerror = () => undefined; // a close event always follows
  }

  /** A 20 ms PCM16 frame from the microphone; dropped unless the session is live. */
  sendAudio(frame: ArrayBuffer): boolean {
    if (this.state !== "live" || this.socket?.readyState !== OPEN) return false;
    this.socket.send(frame);
    return true;
  }

  sendText(text: string): void {
    this.send({ type: ClientEvent.text, text });
  }

  interrupt(): void {
    this.send({ type: ClientEvent.interrupt });
  }

  reportPlayback(messageId: string, playedMs: number): void {
    this.send({ type: ClientEvent.playback, message_id: messageId, played_ms: Math.round(playedMs) });
  }

  end(): void {
    if (this.state === "live" && this.send({ type: ClientEvent.end })) {
      this.setState("ending");
      return;
    }
    this.setState("ended");
    this.socket?.close(CloseCode.normal);
  }

  private send(message: ClientMessage): boolean {
    if (this.state !== "live" || this.socket?.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  private async authenticate(socket: SocketLike): Promise<void> {
    let token: string;
    try {
      token = await this.options.getToken();
    } catch {
      this.fail("not signed in");
      socket.close(CloseCode.normal);
      return;
    }
    if (socket !== this.socket) return;
    socket.send(JSON.stringify({ type: ClientEvent.auth, token } satisfies ClientMessage));
    const start: ClientMessage = {
      type: ClientEvent.start,
      mode: this.options.mode,
      input_audio: INPUT_FORMAT,
      output_audio: { encoding: "pcm_s16le", sample_rate: this.options.outputSampleRate },
      ...(this.options.personaId ? { persona_id: this.options.personaId } : {}),
      // Only a new session names its scenario: a resumed one already holds its frozen copy.
      ...(this.options.scenarioId && !this.sessionId ? { scenario_id: this.options.scenarioId } : {}),
      ...(this.options.assignmentId && !this.sessionId ? { assignment_id: this.options.assignmentId } : {}),
      ...(this.sessionId ? { session_id: this.sessionId } : {}),
      ...(this.avatar ? { avatar: { provider: this.avatar } } : {}),
    };
    socket.send(JSON.stringify(start));
    this.setState("starting");
  }

  private receive(data: string | ArrayBuffer): void {
    if (typeof data !== "string") {
      if (this.audioMessage) this.emit("audio", this.audioMessage.id, data, this.audioMessage.rate);
      return;
    }
    let message: ServerMessage;
    try {
      message = JSON.parse(data) as ServerMessage;
    } catch {
      return; // the server speaks JSON; ignore anything else rather than tear the session down
    }
    switch (message.type) {
      case ServerEvent.ready:
        this.sessionId = message.session_id;
        this.attempt = 0;
        this.setState("live");
        break;
      case ServerEvent.audioStart:
        this.audioMessage = { id: message.message_id, rate: message.sample_rate };
        break;
      case ServerEvent.audioEnd:
        break;
      case ServerEvent.interrupted:
        this.audioMessage = undefined;
        this.emit("interrupted", message.message_id, message.heard_text);
        break;
      case ServerEvent.playbackPause:
        this.emit("paused", message.message_id, true);
        break;
      case ServerEvent.playbackResume:
        this.emit("paused", message.message_id, false);
        break;
      case ServerEvent.reconnect:
        // The instance is draining: the balancer sends the next socket elsewhere, where the
        // session resumes with its whole history. The server closes this one (1012) next.
        this.sessionId = message.session_id ?? this.sessionId;
        this.moving = true;
        break;
      case ServerEvent.sessionEnded:
        this.sessionId = message.session_id ?? this.sessionId;
        this.setState("ended", message.reason);
        this.socket?.close(CloseCode.normal);
        break;
      default:
        break;
    }
    this.emit("message", message);
  }

  private closed(socket: SocketLike, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (this.state === "ended" || this.state === "failed") return;
    if (this.state === "ending") {
      this.setState("ended", reason || "closed");
      return;
    }
    if (this.moving) {
      this.moving = false;
      this.audioMessage = undefined;
      this.setState("reconnecting", "server_draining");
      this.connect();
      return;
    }
    if (FATAL_CLOSE_CODES.has(code)) {
      this.fail(code === CloseCode.authFailed ? "authentication refused" : reason || `closed (${code})`);
      return;
    }
    const delay = (this.options.backoff ?? defaultBackoff)(this.attempt);
    if (delay === undefined) {
      this.fail("connection lost");
      return;
    }
    this.attempt += 1;
    this.audioMessage = undefined;
    this.setState("reconnecting", `attempt ${this.attempt}`);
    (this.options.schedule ?? setTimeout)(() => this.connect(), delay);
  }

  private fail(detail: string): void {
    this.setState("failed", detail);
  }

  private setState(state: VoiceState, detail?: string): void {
    this.state = state;
    this.emit("state", state, detail);
  }

  private emit<K extends keyof VoiceEvents>(event: K, ...args: Parameters<VoiceEvents[K]>): void {
    for (const listener of this.listeners[event]) (listener as (...a: Parameters<VoiceEvents[K]>) => void)(...args);
  }
}
