// Login, transparent token refresh (one refresh for many refused requests), logout revoking
// the refresh token.
import { assert, eventually, login, navLink, recordRequests, visible } from "../lib.mjs";

export default async function ({ data, newPage, screenshot }) {
  const { accounts, tokens } = data;
  const page = await newPage();

  await page.goto("/practise");
  await page.waitForURL("**/login"); // signed out: the app sends you to sign in
  await page.getByLabel("Email").fill(accounts.super.email);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await visible(page.getByRole("alert").filter({ hasText: "incorrect" }));
  await screenshot(page, "login-error");

  await login(page, accounts.super);
  await page.waitForURL("**/practise"); // back to where they were going
  await navLink(page, "Dashboard").click();
  const requests = recordRequests(page);

  // An access token the server refuses (wrong signature, not yet "expired" for the client):
  // the two requests the staff page makes at once both get 401, and exactly one refresh follows.
  const refreshBefore = await page.evaluate(() => localStorage.getItem("sparring.refresh_token"));
  await page.evaluate((t) => sessionStorage.setItem("sparring.access_token", t), tokens.forged);
  await navLink(page, "Staff").click(); // the dashboard also links "Manage staff"
  await visible(page.getByTestId("staff").getByText(accounts.admin.email));
  assert.equal(requests.filter((r) => r === "POST /api/v1/auth/refresh").length, 1, requests.join("\n"));
  assert.ok(requests.filter((r) => r === "GET /api/v1/users").length >= 2, "the refused request was retried");
  const refreshAfter = await page.evaluate(() => localStorage.getItem("sparring.refresh_token"));
  assert.notEqual(refreshAfter, refreshBefore, "the refresh token rotated");

  // An expired access token is replaced before use (no refused request at all).
  requests.length = 0;
  await page.evaluate((t) => sessionStorage.setItem("sparring.access_token", t), tokens.expired);
  await page.reload();
  await visible(page.getByTestId("staff").getByText(accounts.admin.email));
  assert.equal(requests.filter((r) => r === "POST /api/v1/auth/refresh").length, 1, requests.join("\n"));

  // Logout revokes the refresh token on the server, not just in this tab.
  const revoked = await page.evaluate(() => localStorage.getItem("sparring.refresh_token"));
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL("**/login");
  assert.equal(await page.evaluate(() => localStorage.getItem("sparring.refresh_token")), null);
  const status = await page.evaluate(async (token) => {
    const r = await fetch("/api/v1/auth/refresh", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: token }),
    });
    return r.status;
  }, revoked);
  assert.equal(status, 401, "the logged-out refresh token no longer works");

  // After a reload a signed-in user stays signed in (refresh token), a signed-out one does not.
  await page.goto("/staff");
  await page.waitForURL("**/login");
  await login(page, accounts.super);
  await page.goto("/staff");
  await eventually(async () => (await page.getByTestId("staff").count()) > 0, { message: "staff page after reload" });
  await screenshot(page, "login");
}
