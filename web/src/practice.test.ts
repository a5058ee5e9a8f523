import { describe, expect, it } from "vitest";
import { dueLabel, score, STATUS_BADGE, STATUS_LABEL } from "./practice";

describe("practice words", () => {
  const now = new Date("2026-12-05T12:00:00Z");

  it("says when work is due, and when it was", () => {
    expect(dueLabel("2026-12-05T18:00:00Z", now)).toMatch(/^due today, /);
    expect(dueLabel("2026-12-06T12:00:00Z", now)).toMatch(/^due tomorrow, /);
    expect(dueLabel("2026-12-12T12:00:00Z", now)).toMatch(/^due /);
    expect(dueLabel("2026-12-04T12:00:00Z", now)).toMatch(/^was due /);
  });

  it("rounds scores and shows a dash for none", () => {
    expect([score(null), score(undefined), score(86.4), score(0)]).toEqual(["—", "—", "86", "0"]);
  });

  it("has words and a colour for every status", () => {
    expect(Object.keys(STATUS_BADGE).sort()).toEqual(Object.keys(STATUS_LABEL).sort());
  });
});
