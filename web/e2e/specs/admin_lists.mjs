// The dealership admin's lists: recent sessions on the dashboard name the salesperson and say
// whether each session is in progress or finished, in words; answer reports are a table of who
// reported what, with a link to the session and its status.
import { assert, eventually, login, visible } from "../lib.mjs";

export default async function ({ data, newPage, screenshot }) {
  const admin = await newPage();
  await login(admin, data.accounts.admin);
  await admin.goto("/dashboard");
  const table = admin.getByTestId("recent-sessions");
  const finished = table.locator(`tr[data-session-id="${data.finished}"]`);
  const active = table.locator(`tr[data-session-id="${data.active}"]`);
  await visible(finished, 30000);
  const headers = await table.getByRole("columnheader").allTextContents();
  assert.ok(headers.includes("Salesperson") && headers.includes("Status"), `columns: ${headers}`);
  const cells = async (row) => (await row.getByRole("cell").allTextContents()).map((t) => t.trim());
  const done = await cells(finished);
  assert.ok(done.includes("Sally Seller") && done.includes("Finished") && done.includes("Text training"), `finished row: ${done}`);
  const live = await cells(active);
  assert.ok(live.includes("Sally Seller") && live.includes("In progress") && live.includes("Text role-play"), `active row: ${live}`);
  assert.equal(await table.getByText(/roleplay|training · text|· voice/).count(), 0, "no raw mode values");
  await screenshot(admin, "dashboard-recent-sessions");

  // The navigation names the page for what it holds.
  await admin.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Answer reports", exact: true }).click();
  await visible(admin.getByRole("heading", { level: 1, name: "Answer reports", exact: true }));
  const reports = admin.getByTestId("reports");
  const row = reports.locator("tr[data-report-id]").filter({ hasText: "Adam quoted the wrong warranty." });
  await visible(row, 30000);
  const columns = await reports.getByRole("columnheader").allTextContents();
  assert.ok(["Reporter", "Session", "Status"].every((c) => columns.includes(c)), `columns: ${columns}`);
  assert.ok((await cells(row)).includes("Sally Seller"), "the reporter is named");
  const link = row.getByRole("link", { name: "Session with Adam", exact: true });
  assert.equal(await link.getAttribute("href"), `/sessions/${data.finished}`);
  assert.equal(await row.getAttribute("data-status"), "open");
  await visible(row.getByText("Open", { exact: true }));
  await screenshot(admin, "answer-reports");

  await row.getByLabel("What was done (optional)").fill("Warranty page corrected.");
  await row.getByRole("button", { name: "Mark resolved", exact: true }).click();
  await eventually(async () => (await row.getAttribute("data-status")) === "resolved", { timeout: 30000, message: "the report resolved" });
  await visible(row.getByText("Resolved", { exact: true }));
  await link.click();
  await visible(admin.getByTestId("review-transcript").locator("li"), 30000);
}
