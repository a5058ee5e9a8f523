// Needs issue 5: a voice turn with a fake microphone saying a spoken WAV once (lib.mjs
// scriptedMicrophone): the transcript appears, the reply streams, the playback worklet receives
// audio, metrics show.
import { alerts, assert, eventually, login, say, scriptedMicrophone, visible } from "../lib.mjs";

export async function startVoiceTraining(page) {
  await page.goto("/practise");
  await page.getByLabel("Training with Adam").check();
  await page.getByLabel("Talk (microphone)").check();
  await page.getByRole("button", { name: "Start session", exact: true }).click();
  await eventually(async () => (await page.getByTestId("voice-state").textContent()) === "Live", { message: "a live voice session" });
}

/** Waits for the transcript of what the microphone said; a timeout names the page's alerts. */
export async function heard(page) {
  try {
    return await visible(page.locator('li[data-role="user"]'));
  } catch (error) {
    throw new Error(`${error.message}\nalerts on the page: ${await alerts(page)}`);
  }
}

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await scriptedMicrophone(page, data.speech);
  await login(page, data.accounts.user);
  await startVoiceTraining(page);
  // No keys: the offline engines are named in the badge (issue 16: Whisper hears, Piper speaks).
  const badge = await visible(page.locator(".voice-status .badge"));
  const label = (await badge.textContent()) ?? "";
  assert.ok(label.includes("stt (faster-whisper tiny.en)") && label.includes("tts (piper en_US-joe-medium)"), label);
  await say(page);
  const user = await heard(page);
  // Whisper hears the spoken question (espeak-ng's voice through the scripted microphone).
  assert.match(((await user.textContent()) ?? "").toLowerCase(), /monthly payment is too high/);
  const reply = await visible(page.locator('li[data-role="assistant"]'));
  await eventually(async () => ((await reply.locator("p").first().textContent()) ?? "").length > 0, { message: "reply text" });
  const received = await eventually(async () => {
    const n = Number(await page.getByTestId("playback").getAttribute("data-received"));
    return n > 0 ? n : 0;
  }, { message: "the playback worklet to receive samples" });
  assert.ok(received > 0);
  await eventually(async () => Number(await page.getByTestId("playback").getAttribute("data-played-ms")) > 0, { message: "audio played" });
  // A trainee sees each turn's response time; the waterfall is for admins (review_timings.mjs).
  // Metrics follow the reply's last audio, which is sent in real time: allow for a long answer.
  await visible(page.getByTestId("metrics").getByTestId("response-times").getByText("response time"), 180000);
  await screenshot(page, "voice");
}
