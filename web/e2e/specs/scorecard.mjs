// Needs issue 4: after ending a session the scorecard appears, and the session review shows the
// transcript and the per-turn latency waterfall.
import { login, visible } from "../lib.mjs";
import { ask, startTextTraining } from "./chat.mjs";

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.user);
  await page.goto("/practise");
  await page.getByLabel("Role-play a customer").check();
  const customer = page.getByLabel("Customer", { exact: true });
  await visible(customer.locator("option").nth(1), 15000).catch(() => undefined);
  const value = await customer.locator("option").nth(1).getAttribute("value");
  await customer.selectOption(value);
  await page.getByLabel("Type").check();
  await page.getByRole("button", { name: "Start session" }).click();
  await ask(page, "Hi, welcome in! I'm Alex. What brings you to the dealership today?");
  await ask(page, "I understand the price matters. If I can get the payment where you need it, would you take it home today?");
  await page.getByRole("button", { name: "End session" }).click();
  await visible(page.getByTestId("scorecard").locator("meter"), 30000);
  await screenshot(page, "scorecard");

  await page.getByRole("link", { name: "Review the session" }).click();
  await visible(page.getByTestId("review-transcript").locator("li"));
  await visible(page.getByTestId("scorecard"));
  await screenshot(page, "session-review");
  await page.goto("/dashboard");
  await visible(page.getByTestId("score-chart"));
  await screenshot(page, "dashboard-with-scores");
  void startTextTraining;
}
