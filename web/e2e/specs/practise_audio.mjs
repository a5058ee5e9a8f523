// Runs on every build: the voice page starts the audio engine under the real CSP (both
// AudioWorklets load, the capture worklet reports the fake microphone's level), and the text
// page reports a failing backend readably instead of breaking.
import { eventually, login, visible } from "../lib.mjs";

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.user);
  await page.getByLabel("Talk (microphone)").check();
  await page.getByRole("button", { name: "Start session" }).click();
  const meter = await visible(page.getByLabel("Microphone level"));
  await eventually(async () => Number(await meter.getAttribute("value")) > 0, {
    timeout: 15000, message: "the capture worklet to report the microphone level",
  });
  await screenshot(page, "practise-voice");

  if (data.backends.chat) return; // the chat spec covers a working backend
  await page.goto("/practise");
  await page.getByLabel("Type").check();
  await page.getByRole("button", { name: "Start session" }).click();
  await page.getByLabel("Your message").fill("How do I answer 'I need to think about it'?");
  await page.getByRole("button", { name: "Send" }).click();
  await visible(page.getByRole("alert"));
  await screenshot(page, "practise-text");
}
