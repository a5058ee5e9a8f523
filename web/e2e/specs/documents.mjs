// Needs issue 3: upload documents (drag and drop, several at once, and the file picker), watch
// them become ready, delete one; a PDF dropped with a picture is uploaded, the picture refused.
import { readFileSync } from "node:fs";
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

  // A PDF dropped together with a picture: the PDF is uploaded, the picture refused, each with its outcome.
  const pdf = readFileSync(new URL("../../../tests/fixtures/documents/objection-handling.pdf", import.meta.url)).toString("base64");
  const mixed = await page.evaluateHandle((pdfBase64) => {
    const bytes = Uint8Array.from(atob(pdfBase64), (c) => c.charCodeAt(0));
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Array.from({ length: 512 }, (_, i) => i % 256)]);
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], "objection-handling.pdf", { type: "application/pdf" }));
    dt.items.add(new File([png], "showroom.png", { type: "image/png" }));
    return dt;
  }, pdf);
  await page.getByTestId("dropzone").dispatchEvent("drop", { dataTransfer: mixed });
  const outcomes = page.getByTestId("upload-outcomes");
  await visible(outcomes.locator('li[data-filename="objection-handling.pdf"][data-outcome="uploaded"]'), 30000);
  await visible(outcomes.locator('li[data-filename="showroom.png"][data-outcome="refused"]').getByText("is not a PDF, DOCX, text or Markdown file"));
  await eventually(async () => (await page.locator('tr[data-filename="objection-handling.pdf"]').getAttribute("data-status")) === "ready", {
    timeout: 60000, message: "the PDF dropped beside a picture to be ready",
  });
  assert.equal(await page.locator('tr[data-filename="showroom.png"]').count(), 0);
  await screenshot(page, "documents-mixed-upload");

  await page.getByRole("button", { name: "Re-index closing.txt" }).click();
  await eventually(async () => (await page.locator('tr[data-filename="closing.txt"]').getAttribute("data-status")) === "ready", {
    timeout: 60000, message: "re-indexed document ready again",
  });
}
