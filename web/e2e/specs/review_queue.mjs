// Issue 19: a trainee disputes a session's score on its review page; the manager overrides it in
// the review queue with a note; the trainee sees the outcome; the team heatmap shows the session.
import { eventually, login, visible } from "../lib.mjs";

export default async function ({ data, newPage, screenshot }) {
  const { sessionId, userId, score } = data;
  const page = await newPage();
  await login(page, data.accounts.user);
  await page.goto(`/sessions/${sessionId}`);
  const review = page.getByTestId("score-review");
  await review.getByRole("button", { name: "Dispute this score" }).click();
  await review.getByLabel("Why is the score wrong?").fill("I acknowledged the price and asked about it.");
  await review.getByRole("button", { name: "Send dispute" }).click();
  await visible(review.getByText("waiting for a manager", { exact: false }));
  await screenshot(page, "dispute-sent");

  const admin = await newPage();
  await login(admin, data.accounts.admin);
  await admin.goto("/reviews");
  const row = admin.locator(`tr[data-reason="dispute"][data-session-id="${sessionId}"]`);
  await visible(row.getByText("I acknowledged the price and asked about it."));
  await visible(row.getByRole("link", { name: /read the transcript/ }));
  await screenshot(admin, "review-queue");
  await row.getByLabel("Note (required)").fill("Good acknowledgement; score raised.");
  await row.getByLabel("New score (0-100, to override)").fill("95");
  await row.getByRole("button", { name: "Override score" }).click();
  await eventually(async () => (await row.count()) === 0, { message: "the dispute leaving the open queue" });

  await page.reload();
  await visible(page.getByTestId("score-review").getByText(`score changed from ${score} to 95`, { exact: false }));
  await visible(page.getByText("Good acknowledgement; score raised.", { exact: false }));
  await screenshot(page, "dispute-outcome");

  await admin.goto("/insight");
  const cell = admin.getByTestId("heatmap").locator(`tr[data-user-id="${userId}"] td[data-objection="price"]`);
  await visible(cell.getByText("95", { exact: false }));
  await screenshot(admin, "team-insight");
}
