// Invites and password resets in the browser: an admin invites a salesperson by email; the link
// is read from the Outbox page (no SMTP here: emails are kept); the invitee opens it, sets a
// password and is signed in; later they forget it, ask for a reset from the sign-in page, and
// set a new one from the emailed link.
import { assert, eventually, login, navLink, visible } from "../lib.mjs";

/** The path and query of the newest emailed link to `page` (e.g. "/invite") for `email`. */
async function linkFromOutbox(admin, email, path) {
  await admin.goto("/outbox");
  return eventually(async () => {
    await admin.getByRole("button", { name: "Refresh", exact: true }).click();
    const text = await admin.locator(`li[data-to="${email}"]`).first().getByTestId("email-text").textContent();
    const found = text?.match(new RegExp(`https?://[^\\s]+(${path}\\?token=[\\w-]+)`));
    return found?.[1];
  }, { message: `a ${path} link to ${email} in the outbox` });
}

export default async function ({ data, newPage, screenshot }) {
  const email = `ivy-${Date.now()}@example.com`;
  const admin = await newPage();
  await login(admin, data.accounts.admin);
  await navLink(admin, "Staff").click();
  await admin.getByLabel("Name", { exact: true }).fill("Ivy Invitee");
  await admin.getByLabel("Email", { exact: true }).fill(email);
  assert.equal(await admin.getByLabel("Temporary password").count(), 0); // an invite needs none
  await admin.getByRole("button", { name: "Invite", exact: true }).click();
  await visible(admin.getByText(`Invite sent to ${email}.`));
  const row = admin.locator(`tr[data-email="${email}"]`);
  await visible(row.getByText("invite pending", { exact: true })); // the Staff list marks it until accepted
  await visible(row.getByRole("button", { name: `Email ${email} a new invite`, exact: true }).filter({ hasText: "Resend invite" }));
  const invite = await linkFromOutbox(admin, email, "/invite");
  await screenshot(admin, "outbox");

  // The invitee opens the link in their own browser.
  const ivy = await newPage();
  await ivy.goto(invite);
  await visible(ivy.getByRole("heading", { name: "Welcome to Sparring", exact: true }));
  await ivy.getByLabel("New password", { exact: true }).fill("ivy-chose-this-1");
  await ivy.getByLabel("Repeat the password", { exact: true }).fill("ivy-chose-this-1");
  await screenshot(ivy, "invite_accept");
  await ivy.getByRole("button", { name: "Set password and sign in", exact: true }).click();
  await visible(ivy.getByRole("button", { name: "Sign out", exact: true }));
  await ivy.getByRole("button", { name: "Sign out", exact: true }).click();
  await admin.goto("/staff");
  await visible(admin.locator(`tr[data-email="${email}"]`));
  assert.equal(await admin.locator(`tr[data-email="${email}"]`).getByText("invite pending").count(), 0);

  // The link works once.
  await ivy.goto(invite);
  await ivy.getByLabel("New password", { exact: true }).fill("ivy-chose-this-2");
  await ivy.getByLabel("Repeat the password", { exact: true }).fill("ivy-chose-this-2");
  await ivy.getByRole("button", { name: "Set password and sign in", exact: true }).click();
  await visible(ivy.getByRole("alert"));

  // Forgot password: from the sign-in page.
  await ivy.goto("/login");
  await ivy.getByRole("link", { name: "Forgot password?", exact: true }).click();
  await ivy.getByLabel("Email").fill(email);
  await ivy.getByRole("button", { name: "Email me a link", exact: true }).click();
  await visible(ivy.getByRole("status").filter({ hasText: "a link to reset its password is on its way" }));
  const reset = await linkFromOutbox(admin, email, "/reset-password");
  await ivy.goto(reset);
  await ivy.getByLabel("New password", { exact: true }).fill("ivy-new-password-3");
  await ivy.getByLabel("Repeat the password", { exact: true }).fill("ivy-new-password-3");
  await ivy.getByRole("button", { name: "Set new password", exact: true }).click();
  await visible(ivy.getByRole("button", { name: "Sign out", exact: true }));
  await ivy.getByRole("button", { name: "Sign out", exact: true }).click();
  await login(ivy, { email, password: "ivy-new-password-3" });
}
