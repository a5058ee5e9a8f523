// Needs issue 4: a dealership admin copies a built-in customer into an editable persona, edits it,
// disables it (it stays listed, and salespeople can no longer pick it) and enables it again.
import { assert, eventually, login, visible } from "../lib.mjs";

async function customerNames(page) {
  await page.goto("/practise");
  await page.getByLabel("Role-play a customer").check();
  const select = page.getByLabel("Customer", { exact: true });
  // Options are never "visible" to Playwright: wait until the list has loaded.
  await eventually(async () => (await select.locator("option").count()) > 1, { message: "the customers" });
  return select.locator("option").allTextContents();
}

export default async function ({ data, newPage, screenshot }) {
  const admin = await newPage();
  await login(admin, data.accounts.admin);
  await admin.goto("/personas");
  // Built-ins cannot be changed on the server, so they offer a copy instead of Edit.
  await visible(admin.getByRole("button", { name: "Copy Sam Patel" }));
  assert.equal(await admin.getByRole("button", { name: "Edit Sam Patel" }).count(), 0);

  await admin.getByRole("button", { name: "Copy Sam Patel" }).click();
  const form = admin.getByRole("form", { name: "New persona" });
  assert.equal(await form.getByRole("textbox", { name: "Name", exact: true }).inputValue(), "Sam Patel (copy)");
  assert.ok(await form.getByRole("checkbox", { name: "Price" }).isChecked(), "the copy keeps the built-in's objections");
  await form.getByRole("textbox", { name: "Name", exact: true }).fill("Sam the Haggler");
  await form.getByRole("combobox", { name: "Difficulty" }).selectOption("hard");
  await form.getByRole("checkbox", { name: "Monthly payment" }).check();
  await screenshot(admin, "personas-editor");
  await form.getByRole("button", { name: "Save" }).click();

  const card = admin.locator("li[data-persona-id]").filter({ has: admin.getByRole("heading", { name: "Sam the Haggler" }) });
  await visible(card);
  await visible(card.getByText("hard · Price · Needs to think about it · Monthly payment"));
  await card.getByRole("button", { name: "Edit Sam the Haggler" }).click();
  const edit = admin.getByRole("form", { name: "Edit Sam the Haggler" });
  await edit.getByRole("textbox", { name: "Summary" }).fill("Haggles over every dollar of the monthly payment.");
  await edit.getByRole("button", { name: "Save" }).click();
  await visible(card.getByText("Haggles over every dollar of the monthly payment."));

  const user = await newPage();
  await login(user, data.accounts.user);
  assert.ok((await customerNames(user)).some((n) => n.startsWith("Sam the Haggler (hard)")), "salespeople can pick it");

  // Disabled: still listed for the admin (to enable again), gone from the salesperson's choice.
  await card.getByRole("button", { name: "Disable Sam the Haggler" }).click();
  await visible(card.getByRole("button", { name: "Enable Sam the Haggler" }));
  await visible(card.getByText("disabled"));
  await screenshot(admin, "personas-custom");
  assert.ok(!(await customerNames(user)).some((n) => n.startsWith("Sam the Haggler")), "a disabled persona cannot be picked");

  await card.getByRole("button", { name: "Enable Sam the Haggler" }).click();
  await visible(card.getByRole("button", { name: "Disable Sam the Haggler" }));
  await eventually(async () => (await customerNames(user)).some((n) => n.startsWith("Sam the Haggler")), {
    message: "the enabled persona back in the salesperson's list",
  });

  // A built-in can be disabled too, for this dealership only.
  const builtin = admin.locator('li[data-persona-id="derek-tradein"]');
  await builtin.getByRole("button", { name: /^Disable / }).click();
  await visible(builtin.getByRole("button", { name: /^Enable / }));
  await eventually(async () => !(await customerNames(user)).some((n) => n.startsWith("Derek")), {
    message: "the disabled built-in gone from the salesperson's list",
  });
}
