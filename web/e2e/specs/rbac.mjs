// A salesperson sees only their pages, cannot open admin pages by URL, and the server refuses
// admin actions even when asked directly.
import { assert, login, navNames, visible } from "../lib.mjs";

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.user);
  await page.waitForURL("**/practise");
  assert.deepEqual(await navNames(page), ["Practise", "Dashboard"]);

  for (const path of ["/staff", "/documents", "/personas", "/scenarios", "/scenarios/builder", "/rubrics", "/reports", "/insight", "/reviews", "/webhooks", "/dealerships", "/assignments", "/teams", "/programs", "/certification"]) {
    await page.goto(path);
    await visible(page.getByTestId("forbidden"));
  }
  await screenshot(page, "salesperson-forbidden");

  const status = await page.evaluate(async () => {
    const token = sessionStorage.getItem("sparring.access_token");
    const r = await fetch("/api/v1/users", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ email: "sneaky@example.com", password: "long enough pw", name: "Sneaky", role: "user" }),
    });
    return r.status;
  });
  assert.equal(status, 403);

  // A dealership admin gets the admin pages but not the super admin's.
  const admin = await newPage();
  await login(admin, data.accounts.admin);
  assert.deepEqual(await navNames(admin), ["Practise", "Dashboard", "Documents", "Staff", "Personas", "Scenarios", "Rubrics", "Answer reports", "Assignments", "Teams", "Programmes", "Certification", "Team insight", "Review queue", "Webhooks"]);
  await admin.goto("/dealerships");
  await visible(admin.getByTestId("forbidden"));
}
