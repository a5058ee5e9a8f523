import type { Objection } from "./api/types";

/** A Record over the generated union: the typecheck fails if the server adds an objection. */
export const OBJECTIONS: Record<Objection, string> = {
  price: "Price",
  trade_in: "Trade-in value",
  monthly_payment: "Monthly payment",
  think_about_it: "Needs to think about it",
  spouse: "Spouse or partner",
  competitor: "Competitor's offer",
  fi_products: "F&I products",
};

/** Scorecards list objections as plain strings; they are the same values. */
export function objectionLabel(value: string): string {
  return value in OBJECTIONS ? OBJECTIONS[value as Objection] : value.replace(/_/g, " ");
}
