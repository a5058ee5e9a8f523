/** Webhook event names and how the admin page words them and their deliveries. */
import type { WebhookDelivery, WebhookEvent } from "./api/types";

export const WEBHOOK_EVENTS: { value: WebhookEvent; label: string }[] = [
  { value: "session.completed", label: "A practice session ended" },
  { value: "scorecard.ready", label: "A scorecard is ready" },
  { value: "assignment.passed", label: "An assignment was passed" },
  { value: "assignment.overdue", label: "An assignment is overdue" },
  { value: "certification.granted", label: "Someone was certified" },
  { value: "document.ready", label: "A document is ready" },
  { value: "document.failed", label: "A document failed" },
];

/** One line on what became of a delivery: "200 after 3 attempts", "HTTP 500, retrying", ... */
export function deliveryOutcome(d: Pick<WebhookDelivery, "status" | "attempts" | "response_code" | "last_error">): string {
  const tries = d.attempts === 1 ? "1 attempt" : `${d.attempts} attempts`;
  switch (d.status) {
    case "succeeded":
      return `${d.response_code ?? "2xx"} after ${tries}`;
    case "failed":
      return `Gave up after ${tries}: ${d.last_error ?? "no answer"}`;
    case "sending":
      return "Sending…";
    default:
      return d.attempts === 0 ? "Waiting to be sent" : `${d.last_error ?? "Failed"}; retrying (${tries} so far)`;
  }
}

/** Toggles `value` in a list of events, keeping the list in the picker's order. */
export function toggleEvent(events: WebhookEvent[], value: WebhookEvent): WebhookEvent[] {
  const next = events.includes(value) ? events.filter((e) => e !== value) : [...events, value];
  return WEBHOOK_EVENTS.map((e) => e.value).filter((e) => next.includes(e));
}
