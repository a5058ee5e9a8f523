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
  await visible(page.locator('li[data-role="user"]'), 60000);
  const reply = await visible(page.locator('li[data-role="assistant"]'), 60000);
  await eventually(async () => ((await reply.locator("p").first().textContent()) ?? "").length > 0, { timeout: 30000, message: "reply text" });
  const received = await eventually(async () => {
    const n = Number(await page.getByTestId("playback").getAttribute("data-received"));
    return n > 0 ? n : 0;
  }, { timeout: 30000, message: "the playback worklet to receive samples" });
  assert.ok(received > 0);
  await eventually(async () => Number(await page.getByTestId("playback").getAttribute("data-played-ms")) > 0, { message: "audio played" });
  // A trainee sees each turn's response time; the waterfall is for admins (review_timings.mjs).
  await visible(page.getByTestId("metrics").getByTestId("response-times").getByText("response time"), 60000);
  await screenshot(page, "voice");
}
