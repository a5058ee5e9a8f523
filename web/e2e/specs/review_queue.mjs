// Issue 19: a trainee disputes a session's score on its review page; the manager overrides it in
// the review queue with a note; the trainee sees the outcome; the team heatmap shows the session.
// A second disputed session is rescored criterion by criterion (every one at its top: 100).
import { assert, eventually, login, visible } from "../lib.mjs";

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

  const second = admin.locator(`tr[data-reason="dispute"][data-session-id="${data.secondId}"]`);
  await second.getByLabel("Note (required)").fill("Every criterion was met.");
  await second.getByText("Rescore by criterion", { exact: true }).click();
  const inputs = second.getByTestId("criterion-scores").getByRole("spinbutton");
  await eventually(async () => (await inputs.count()) > 0, { message: "the session's criteria" });
  for (const input of await inputs.all()) await input.fill(String(await input.getAttribute("max")));
  await screenshot(admin, "review-by-criterion");
  await second.getByRole("button", { name: "Override score" }).click();
  await eventually(async () => (await second.count()) === 0, { message: "the second dispute leaving the open queue" });
  await page.goto(`/sessions/${data.secondId}`);
  await visible(page.getByTestId("score-review").getByText(`score changed from ${data.secondScore} to 100`, { exact: false }));
  assert.ok(data.secondScore < 100);

  await page.goto(`/sessions/${sessionId}`);
  await visible(page.getByTestId("score-review").getByText(`score changed from ${score} to 95`, { exact: false }));
  await visible(page.getByText("Good acknowledgement; score raised.", { exact: false }));
  await screenshot(page, "dispute-outcome");

  await admin.goto("/insight");
  const cell = admin.getByTestId("heatmap").locator(`tr[data-user-id="${userId}"] td[data-objection="price"]`);
  // Both overridden sessions: their average (95 and 100) and the best.
  await visible(cell.getByText("97.5", { exact: false }));
  await visible(cell.getByText("best 100", { exact: true }));
  await screenshot(admin, "team-insight");
}
