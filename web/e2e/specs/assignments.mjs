// Needs issue 19: a manager assigns a scenario to a trainee; the trainee sees it first on signing
// in, completes it by text, and it shows passed for both; on the certification board the trainee
// is ready for review, dragged to certified (certificate printable), and moved back with a note.
import { assert, eventually, login, visible } from "../lib.mjs";
import { ask } from "./chat.mjs";

export default async function ({ data, newPage, screenshot }) {
  const admin = await newPage();
  await login(admin, data.accounts.admin);
  await admin.goto("/assignments");
  const what = admin.getByLabel("Scenario or programme");
  await eventually(async () => (await what.locator(`option[value="scenario:${data.scenario}"]`).count()) === 1, { message: "the scenarios" });
  await what.selectOption(`scenario:${data.scenario}`);
  await admin.getByLabel(data.trainee_name).check();
  await admin.getByRole("button", { name: "Assign", exact: true }).click();
  const row = admin.getByTestId("admin-assignment").getByTestId("progress-row").filter({ hasText: data.trainee_name });
  await visible(row.and(admin.locator('[data-status="not_started"]')));
  await screenshot(admin, "assignments-admin");

  // The trainee's home: "My assignments" comes first.
  const page = await newPage();
  await login(page, data.accounts.user);
  await page.waitForURL("**/practise");
  const card = page.getByTestId("assignment");
  await visible(card);
  const headings = await page.locator("main h2").allTextContents();
  assert.equal(headings[0], "My assignments", `first section: ${headings}`);
  assert.equal(await card.getAttribute("data-status"), "not_started");
  await screenshot(page, "my-assignments");
  await card.getByRole("button", { name: "Start (type)" }).click();
  for (const line of data.lines) await ask(page, line);
  await page.getByRole("button", { name: "End session" }).click();
  await visible(page.getByTestId("scorecard"), 30000);
  await page.getByRole("button", { name: "Practise again" }).click();
  await visible(page.locator('[data-testid="assignment"][data-status="passed"]'));
  assert.notEqual((await page.getByTestId("best-score").textContent())?.trim(), "—");
  await screenshot(page, "my-assignments-passed");

  await admin.reload();
  await visible(row.and(admin.locator('[data-status="passed"]')));

  // The board: ready for review, dragged to certified, then back with a note (the buttons' way).
  await admin.goto("/certification");
  const ready = admin.locator('[data-testid="board-card"][data-stage="ready_for_review"]').filter({ hasText: data.trainee_name });
  await visible(ready);
  await ready.dragTo(admin.locator('section.board-column[data-stage="certified"]'));
  const certified = admin.locator('[data-testid="board-card"][data-stage="certified"]').filter({ hasText: data.trainee_name });
  await visible(certified);
  await visible(certified.getByRole("button", { name: "Print certificate" }));
  await screenshot(admin, "certification-board");
  await certified.getByRole("button", { name: "Back to ready for review" }).click();
  await admin.getByLabel("Why (the person and the audit log see this)").fill("Needs one more supervised deal.");
  await admin.getByRole("button", { name: "Move back" }).click();
  await visible(admin.locator('[data-testid="board-card"][data-stage="ready_for_review"]').filter({ hasText: "Needs one more supervised deal." }));
}
