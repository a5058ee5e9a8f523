// Issue 14 (items 1 and 3), with a silent fake microphone: the "too fast" warning clears once the
// server accepts the audio again, and a session ended before any turn ends cleanly.
import { assert, eventually, login, visible } from "../lib.mjs";
import { startVoiceTraining } from "./voice.mjs";

// A dial on the page's outgoing microphone audio: `copies` of each binary frame (more than one:
// faster than real time), or none while `mute`. Text messages pass unchanged.
function audioDial() {
  window.__audio = { copies: 1, mute: false };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data === "string") return send.call(this, data);
    if (window.__audio.mute) return undefined;
    for (let i = 0; i < window.__audio.copies; i++) send.call(this, data);
    return undefined;
  };
}

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await page.addInitScript(audioDial);
  await login(page, data.accounts.user);
  await startVoiceTraining(page);

  // Four times real time: past the 2 s burst within a second or so, and refused.
  await page.evaluate(() => (window.__audio.copies = 4));
  const warning = page.getByRole("alert").filter({ hasText: "faster than real time" });
  await visible(warning, 30000);
  await screenshot(page, "voice-too-fast");
  // Back under the wall clock (a pause, then real time): accepted again, and the warning goes.
  await page.evaluate(() => Object.assign(window.__audio, { copies: 1, mute: true }));
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await page.evaluate(() => (window.__audio.mute = false));
  await eventually(async () => (await warning.count()) === 0, { timeout: 30000, message: "the warning to clear" });

  // No turn was taken: ending shows a plain word and a way on, nothing raw.
  await page.getByRole("button", { name: "End session" }).click();
  const ended = await visible(page.getByTestId("nothing-to-score"), 30000);
  assert.match(await ended.textContent(), /nothing to score/);
  const text = await page.locator("main").textContent();
  assert.ok(!/not found|client_end|Hearing you/.test(text), `unexpected text after ending: ${text}`);
  assert.equal(await page.getByRole("alert").count(), 0);
  await screenshot(page, "voice-ended-empty");
  await page.getByRole("button", { name: "Practise again" }).click();
  await visible(page.getByRole("button", { name: "Start session" }));
}
