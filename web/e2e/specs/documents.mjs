// Needs issue 3: upload documents (drag and drop, several at once, and the file picker), watch
// them become ready, delete one.
import { assert, eventually, login, navLink, visible } from "../lib.mjs";

const GUIDE = `Handling "the payment is too high"
Acknowledge the concern, then ask what monthly figure they had in mind. Show the value of the
extended warranty over the term, and offer a longer term or a larger down payment before price.`;

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.admin);
  await navLink(page, "Documents").click();

  // Two files dropped at once onto the drop zone.
  const transfer = await page.evaluateHandle((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], "payment-objections.txt", { type: "text/plain" }));
    dt.items.add(new File(["# Trade-in word track\n\nAsk about the car's history before talking numbers.\n"], "trade-in.md", { type: "text/markdown" }));
    return dt;
  }, GUIDE);
  await page.getByTestId("dropzone").dispatchEvent("drop", { dataTransfer: transfer });
  // And one through the keyboard-reachable file picker.
  await page.getByLabel("Choose files").setInputFiles([
    { name: "closing.txt", mimeType: "text/plain", buffer: Buffer.from("Trial close: if we can get the payment there, would you drive it home today?\n") },
  ]);

  for (const name of ["payment-objections.txt", "trade-in.md", "closing.txt"]) {
    await visible(page.locator(`tr[data-filename="${name}"]`));
    await eventually(async () => (await page.locator(`tr[data-filename="${name}"]`).getAttribute("data-status")) === "ready", {
      timeout: 60000, message: `${name} to be ready`,
    });
  }
  await screenshot(page, "documents-ready");

  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: "Delete trade-in.md" }).click();
  await eventually(async () => (await page.locator('tr[data-filename="trade-in.md"]').count()) === 0, { message: "deleted row gone" });
  assert.equal(await page.locator('tr[data-filename="payment-objections.txt"]').count(), 1);

  await page.getByRole("button", { name: "Re-index closing.txt" }).click();
  await eventually(async () => (await page.locator('tr[data-filename="closing.txt"]').getAttribute("data-status")) === "ready", {
    timeout: 60000, message: "re-indexed document ready again",
  });
}
