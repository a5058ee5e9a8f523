// Needs issue 18: a dealership admin copies a built-in rubric and changes its criteria, copies a
// built-in scenario onto that rubric with a hidden fact of its own, and deactivates it: gone from
// the salesperson's scenarios, listed (inactive) for the admin, and back once activated.
import { assert, eventually, login, navLink, visible } from "../lib.mjs";

async function scenarioTitles(page) {
  await page.goto("/practise");
  await page.getByLabel("Practise a scenario").check();
  const list = page.getByTestId("scenario-choices");
  await visible(list.getByRole("radio").first());
  return list.getByRole("radio").evaluateAll((radios) => radios.map((r) => r.closest("label").textContent.trim()));
}

export default async function ({ data, newPage, screenshot }) {
  const admin = await newPage();
  await login(admin, data.accounts.admin);

  // A rubric: built-ins are copied; the copy gets a criterion of its own.
  await navLink(admin, "Rubrics").click();
  await admin.getByRole("button", { name: "Copy LAER objection handling", exact: true }).click();
  const rubricForm = admin.getByRole("form", { name: "New rubric" });
  await rubricForm.getByRole("textbox", { name: "Name", exact: true }).fill("Our LAER");
  await rubricForm.getByRole("button", { name: "Add a criterion", exact: true }).click();
  const added = rubricForm.getByRole("listitem").last();
  await added.getByRole("textbox", { name: "Label", exact: true }).fill("Books the appointment");
  await added.getByRole("combobox", { name: "Scale", exact: true }).selectOption("binary");
  await added.getByRole("spinbutton", { name: "Weight", exact: true }).fill("2");
  await screenshot(admin, "rubric-editor");
  await rubricForm.getByRole("button", { name: "Save", exact: true }).click();
  const rubric = admin.locator("li[data-rubric-id]").filter({ has: admin.getByRole("heading", { name: "Our LAER", exact: true }) });
  await visible(rubric.getByText("Books the appointment"));
  await visible(rubric.getByText("(Yes / no, weight 2)"));
  await visible(rubric.getByRole("button", { name: "Edit Our LAER", exact: true }));

  // A scenario copied from a built-in, judged by that rubric, with a fact of its own.
  await navLink(admin, "Scenarios").click();
  await admin.getByRole("button", { name: "Copy The price is too high", exact: true }).click();
  const form = admin.getByRole("form", { name: "New scenario" });
  assert.equal(await form.getByRole("textbox", { name: "Title", exact: true }).inputValue(), "The price is too high (copy)");
  await form.getByRole("textbox", { name: "Title", exact: true }).fill("Price, our way");
  await form.getByRole("combobox", { name: "Rubric", exact: true }).selectOption({ label: "Our LAER" });
  await form.getByRole("combobox", { name: "Difficulty", exact: true }).selectOption("hard");
  await form.getByRole("button", { name: "Add a fact", exact: true }).click();
  const fact = form.getByRole("listitem", { name: /^Fact \d+$/ }).last();
  await fact.getByRole("textbox", { name: "About", exact: true }).fill("Competing quote");
  await fact.getByRole("textbox", { name: "What the customer says", exact: true }).fill("The other dealer quoted me $31,200.");
  await form.getByRole("spinbutton", { name: "Pass mark (0-100)", exact: true }).fill("60");
  await screenshot(admin, "scenario-editor");
  await form.getByRole("button", { name: "Save", exact: true }).click();

  const card = admin.locator("li[data-scenario-id]").filter({ has: admin.getByRole("heading", { name: "Price, our way", exact: true }) });
  await visible(card);
  await visible(card.getByText("Our LAER", { exact: true }));
  await visible(card.getByText("Hard · Role-play · Price", { exact: false }));
  assert.equal(await card.locator("dt", { hasText: "Pass mark" }).locator("xpath=following-sibling::dd").textContent(), "60");

  const user = await newPage();
  await login(user, data.accounts.user);
  assert.ok((await scenarioTitles(user)).includes("Price, our way"), "salespeople can pick the new scenario");

  await card.getByRole("button", { name: "Deactivate Price, our way", exact: true }).click();
  await visible(card.getByRole("button", { name: "Activate Price, our way", exact: true }));
  await visible(card.getByText("inactive", { exact: true }));
  await screenshot(admin, "scenarios-list");
  assert.ok(!(await scenarioTitles(user)).includes("Price, our way"), "an inactive scenario cannot be picked");

  await card.getByRole("button", { name: "Activate Price, our way", exact: true }).click();
  await eventually(async () => (await scenarioTitles(user)).includes("Price, our way"), {
    message: "the activated scenario back in the salesperson's list",
  });
}
