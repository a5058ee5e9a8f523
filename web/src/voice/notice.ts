/**
 * The voice panel's one warning line. A warning stays until another replaces it, except
 * `audio_too_fast`: the server repeats it (at most once a second) for as long as it drops
 * microphone audio, so once a few seconds pass without it the audio is being accepted again and
 * the warning clears itself.
 */
import { ErrorCode } from "./protocol";

export const TOO_FAST_CLEARS_MS = 3000;

type Schedule = (fn: () => void, ms: number) => unknown;
type Cancel = (handle: unknown) => void;

export class Notice {
  private timer: unknown;

  constructor(
    private readonly onChange: (text: string | undefined) => void,
    private readonly schedule: Schedule = (fn, ms) => setTimeout(fn, ms),
    private readonly cancel: Cancel = (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  ) {}

  /** Shows `text` (undefined clears); `transientMs`: clear it again after that long unless replaced. */
  show(text: string | undefined, transientMs?: number): void {
    if (this.timer !== undefined) this.cancel(this.timer);
    this.timer = undefined;
    this.onChange(text);
    if (text !== undefined && transientMs !== undefined) {
      this.timer = this.schedule(() => {
        this.timer = undefined;
        this.onChange(undefined);
      }, transientMs);
    }
  }

  /** A server `error` event. */
  serverError(code: string, message: string, retryable: boolean): void {
    const text = `${message}${retryable ? " (you can try again)" : ""}`;
    this.show(text, code === ErrorCode.audioTooFast ? TOO_FAST_CLEARS_MS : undefined);
  }

  dispose(): void {
    if (this.timer !== undefined) this.cancel(this.timer);
    this.timer = undefined;
  }
}
