// Needs issue 5: a voice turn with Chromium's fake microphone playing a spoken WAV: the
// transcript appears, the reply streams, the playback worklet receives audio, metrics show.
import { assert, eventually, login, visible } from "../lib.mjs";

export async function startVoiceTraining(page) {
  await page.goto("/practise");
  await page.getByLabel("Training with Adam").check();
  await page.getByLabel("Talk (microphone)").check();
  await page.getByRole("button", { name: "Start session" }).click();
  await eventually(async () => (await page.getByTestId("voice-state").textContent()) === "Live", { timeout: 30000, message: "a live voice session" });
}

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.user);
  await startVoiceTraining(page);
  // No keys: the offline engines are named in the badge (issue 16: Whisper hears, Piper speaks).
  const badge = await visible(page.locator(".voice-status .badge"), 30000);
  const label = (await badge.textContent()) ?? "";
  assert.ok(label.includes("stt (faster-whisper tiny.en)") && label.includes("tts (piper en_US-joe-medium)"), label);
  const user = await visible(page.locator('li[data-role="user"]'), 60000);
  // Whisper hears the spoken question (espeak-ng's voice through Chromium's fake microphone).
  assert.match(((await user.textContent()) ?? "").toLowerCase(), /monthly payment is too high/);
  const reply = await visible(page.locator('li[data-role="assistant"]'), 60000);
  await eventually(async () => ((await reply.locator("p").first().textContent()) ?? "").length > 0, { timeout: 30000, message: "reply text" });
  const received = await eventually(async () => {
    const n = Number(await page.getByTestId("playback").getAttribute("data-received"));
    return n > 0 ? n : 0;
  }, { timeout: 30000, message: "the playback worklet to receive samples" });
  assert.ok(received > 0);
  await eventually(async () => Number(await page.getByTestId("playback").getAttribute("data-played-ms")) > 0, { message: "audio played" });
  await visible(page.getByTestId("metrics").getByTestId("waterfall"), 30000);
  await screenshot(page, "voice");
}
