// Small helpers shared by the specs (assertions wait, because the UI is asynchronous).
import assert from "node:assert/strict";

export { assert };

export async function login(page, account) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

export async function visible(locator, timeout = 15000) {
  await locator.first().waitFor({ state: "visible", timeout });
  return locator.first();
}

export async function eventually(check, { timeout = 15000, interval = 100, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${message}${last ? `: ${last.message}` : ""}`);
}

/** Records every request to the API so a spec can count them. */
export function recordRequests(page) {
  const seen = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith("/api/")) seen.push(`${request.method()} ${url.pathname}`);
  });
  return seen;
}

export async function navNames(page) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents();
}
