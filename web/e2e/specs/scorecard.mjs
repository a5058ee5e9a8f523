// Needs issue 4: after ending a session the scorecard appears, and the session review shows the
// transcript and each reply's response time; a reported answer is resolved on the Answer reports page.
import { eventually, login, visible } from "../lib.mjs";
import { ask, startTextTraining } from "./chat.mjs";

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.user);
  await page.goto("/practise");
  await page.getByLabel("Role-play a customer").check();
  const customer = page.getByLabel("Customer", { exact: true });
  // Options are never "visible" to Playwright: wait until the list has loaded.
  await eventually(async () => (await customer.locator("option").count()) > 1, { message: "the customers" });
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
  // The trainee sees each reply's response time (its first words); the waterfall is for admins.
  await visible(page.getByTestId("response-times").getByText("Reply 1"));

  // Report the customer's first answer; the dealership admin resolves it.
  const answer = page.getByTestId("review-transcript").locator("li.turn-assistant").first();
  const answerText = (await answer.locator("p").first().textContent()) ?? "";
  await answer.getByRole("button", { name: "Report this answer" }).click();
  await answer.getByLabel("What is wrong with this answer?").fill("The customer would not say that.");
  await answer.getByRole("button", { name: "Send report" }).click();
  await visible(answer.getByText("Reported. Thank you."));

  const admin = await newPage();
  await login(admin, data.accounts.admin);
  await admin.goto("/reports");
  const report = admin.locator('tr[data-report-id][data-status="open"]').filter({ hasText: "The customer would not say that." });
  await visible(report.getByText(answerText));
  await report.getByLabel("What was done (optional)").fill("Persona script checked.");
  await report.getByRole("button", { name: "Mark resolved" }).click();
  const resolved = admin.locator('tr[data-report-id][data-status="resolved"]');
  await visible(resolved.getByText("Persona script checked.", { exact: false }));
  await visible(resolved.getByRole("button", { name: "Reopen" }));
  await screenshot(admin, "reports-resolved");

  await page.goto("/dashboard");
  await visible(page.getByTestId("score-chart"));
  await screenshot(page, "dashboard-with-scores");
  void startTextTraining;
}
