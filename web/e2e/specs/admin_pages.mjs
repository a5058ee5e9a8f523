// The pages whose backends are on every branch: dealerships (super admin), staff (invite, edit,
// deactivate), dashboard; plus screenshots of every main page at desktop and phone width.
import { assert, eventually, login, navLink, visible } from "../lib.mjs";

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.super);

  await navLink(page, "Dealerships").click();
  await page.getByLabel("Name", { exact: true }).fill("Riverside Motors");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  const card = await visible(page.getByTestId("dealerships").getByRole("listitem").filter({ hasText: "Riverside Motors" }));
  await card.getByRole("button", { name: "Appoint an admin", exact: true }).click();
  await card.getByLabel("Admin name").fill("Rita Rivers");
  await card.getByLabel("Admin email").fill("rita@riverside.example.com");
  await card.getByLabel("Set a password now").check(); // an emailed invite is the default
  await card.getByLabel("Temporary password").fill("temporary-pass-1");
  await card.getByRole("button", { name: "Appoint admin", exact: true }).click();
  await visible(card.getByText("is now an admin of Riverside Motors"));
  await screenshot(page, "dealerships");

  // The new admin signs in and invites, edits and deactivates a salesperson.
  const admin = await newPage();
  await login(admin, { email: "rita@riverside.example.com", password: "temporary-pass-1" });
  // Their dashboard links to staff management too: a link named just "Staff" is the menu's.
  await visible(admin.getByRole("link", { name: "Manage staff", exact: true }));
  await navLink(admin, "Staff").click();
  await admin.getByLabel("Name", { exact: true }).fill("Sam Seller");
  await admin.getByLabel("Email", { exact: true }).fill("sam@riverside.example.com");
  // An emailed invite is the default; this admin chooses to set a password instead.
  await admin.getByLabel("Set a password now").check();
  await admin.getByLabel("Temporary password").fill("temporary-pass-2");
  await admin.getByRole("button", { name: "Invite", exact: true }).click();
  const row = admin.locator('tr[data-email="sam@riverside.example.com"]');
  await visible(row);
  await row.getByRole("button", { name: "Edit sam@riverside.example.com", exact: true }).click();
  await row.getByLabel("Name of sam@riverside.example.com").fill("Samuel Seller");
  await row.getByRole("button", { name: "Save", exact: true }).click();
  await visible(admin.locator('tr[data-email="sam@riverside.example.com"]').getByText("Samuel Seller"));
  await admin.getByRole("button", { name: "Deactivate sam@riverside.example.com", exact: true }).click();
  await visible(admin.locator('tr[data-email="sam@riverside.example.com"]').getByText("inactive"));
  await screenshot(admin, "staff");

  // Deactivated means signed out for good: Sam cannot sign in.
  const sam = await newPage();
  await sam.goto("/login");
  await sam.getByLabel("Email").fill("sam@riverside.example.com");
  await sam.getByLabel("Password").fill("temporary-pass-2");
  await sam.getByRole("button", { name: "Sign in", exact: true }).click();
  await visible(sam.getByRole("alert"));

  // Keyboard: the skip link is the first stop and takes you to the content.
  await admin.goto("/dashboard");
  await visible(admin.getByRole("heading", { name: "Dashboard", exact: true }));
  await admin.keyboard.press("Tab");
  const focused = await admin.evaluate(() => document.activeElement?.textContent);
  assert.equal(focused, "Skip to content");
  await admin.keyboard.press("Enter");
  assert.equal(await admin.evaluate(() => location.hash), "#main");
  await screenshot(admin, "dashboard");

  for (const path of ["documents", "personas", "reports"]) {
    await admin.goto(`/${path}`);
    await visible(admin.getByRole("heading", { level: 1 }));
    await eventually(async () => (await admin.getByText("Loading…").count()) === 0, { message: `${path} loaded` });
    await screenshot(admin, path);
  }

  // Phone width: the navigation folds into a menu button and pages stay readable.
  const phone = await newPage({ width: 390, height: 844 });
  await login(phone, data.accounts.user);
  await phone.goto("/practise");
  await visible(phone.getByRole("button", { name: "Start session", exact: true }));
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling at phone width (overflow ${overflow}px)`);
  await screenshot(phone, "practise-phone");
  await phone.getByRole("button", { name: "Menu", exact: true }).click();
  await visible(navLink(phone, "Dashboard"));
  await screenshot(phone, "menu-phone");
}
