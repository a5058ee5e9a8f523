import { describe, expect, it } from "vitest";
import { deliveryOutcome, toggleEvent } from "./webhooks";

describe("webhooks", () => {
  it("words each delivery state", () => {
    expect(deliveryOutcome({ status: "succeeded", attempts: 3, response_code: 200, last_error: null })).toBe("200 after 3 attempts");
    expect(deliveryOutcome({ status: "pending", attempts: 0, response_code: null, last_error: null })).toBe("Waiting to be sent");
    expect(deliveryOutcome({ status: "pending", attempts: 2, response_code: 500, last_error: "HTTP 500" })).toBe(
      "HTTP 500; retrying (2 attempts so far)");
    expect(deliveryOutcome({ status: "failed", attempts: 1, response_code: null, last_error: "No answer within 10 s." })).toBe(
      "Gave up after 1 attempt: No answer within 10 s.");
  });

  it("keeps picked events in the picker's order", () => {
    expect(toggleEvent(["document.ready"], "session.completed")).toEqual(["session.completed", "document.ready"]);
    expect(toggleEvent(["session.completed", "document.ready"], "session.completed")).toEqual(["document.ready"]);
  });
});
