import { describe, expect, it } from "vitest";
import { formatTimeLeft } from "./timeLeft";

describe("formatTimeLeft", () => {
  it("shows minutes and seconds, rounding up so zero means the end", () => {
    expect(formatTimeLeft(600_000)).toBe("10:00");
    expect(formatTimeLeft(245_001)).toBe("4:06");
    expect(formatTimeLeft(999)).toBe("0:01");
    expect(formatTimeLeft(0)).toBe("0:00");
    expect(formatTimeLeft(-5_000)).toBe("0:00");
  });
});
