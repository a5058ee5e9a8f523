import { describe, expect, it } from "vitest";
import { Notice, TOO_FAST_CLEARS_MS } from "./notice";
import { ErrorCode } from "./protocol";

/** A manual clock standing in for setTimeout. */
function harness() {
  const shown: (string | undefined)[] = [];
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 0;
  const notice = new Notice(
    (text) => shown.push(text),
    (fn, ms) => {
      timers.set(++next, { at: now + ms, fn });
      return next;
    },
    (handle) => timers.delete(handle as number),
  );
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers]) if (t.at <= now) (timers.delete(id), t.fn());
  };
  return { notice, shown, advance, current: () => shown[shown.length - 1] };
}

describe("the voice panel's warning", () => {
  it("clears 'audio too fast' once the server stops repeating it", () => {
    const { notice, advance, current } = harness();
    notice.serverError(ErrorCode.audioTooFast, "Audio is arriving faster than real time; it was dropped.", false);
    expect(current()).toMatch(/faster than real time/);
    advance(1000); // still dropping: the server repeats it
    notice.serverError(ErrorCode.audioTooFast, "Audio is arriving faster than real time; it was dropped.", false);
    advance(TOO_FAST_CLEARS_MS - 1);
    expect(current()).toMatch(/faster than real time/);
    advance(1); // no repeat for a while: audio is accepted again
    expect(current()).toBeUndefined();
  });

  it("keeps other errors, and a later error is not cleared by the earlier timer", () => {
    const { notice, advance, current } = harness();
    notice.serverError(ErrorCode.audioTooFast, "too fast", false);
    notice.serverError(ErrorCode.llmFailed, "The model failed", true);
    advance(TOO_FAST_CLEARS_MS * 2);
    expect(current()).toBe("The model failed (you can try again)");
  });
});
