// Issue 16: the trainee says "yeah" while the customer answers (scripted microphone, espeak-ng's
// voice): the answer pauses, then goes on (no interruption), and the transcript shows the
// backchannel as a small note on the customer's message, not as a turn of its own.
import { assert, eventually, login, playedMs, recordPlaybackReports, say, scriptedMicrophone, visible } from "../lib.mjs";
import { heard, startVoiceTraining } from "./voice.mjs";

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await scriptedMicrophone(page, data.speech, { backchannel: data.backchannel });
  await recordPlaybackReports(page);
  const reports = () => page.evaluate(() => window.__playbackReports);
  await login(page, data.accounts.user);
  await startVoiceTraining(page);
  await say(page);
  await heard(page);
  const reply = await visible(page.locator('li[data-role="assistant"]'));
  const messageId = await reply.getAttribute("data-message-id");
  // Say it once the trainee has heard some of the answer, while more is still to come.
  await eventually(async () => (await reports()).some((r) => playedMs(r, messageId) >= 500), { message: "the reply to be heard" });
  await say(page, "backchannel");
  const note = await visible(reply.getByTestId("backchannels"), 60000);
  assert.match((await note.textContent()) ?? "", /Heard while speaking: “yeah\.?”/i);
  // Not a turn: one trainee message, and the customer's answer was not cut short.
  assert.equal(await page.locator('li[data-role="user"]').count(), 1);
  assert.equal(await reply.getByTestId("interrupted").count(), 0);
  // The answer plays on after the backchannel.
  const resumedFrom = Math.max(...(await reports()).map((r) => playedMs(r, messageId)));
  await eventually(async () => (await reports()).some((r) => playedMs(r, messageId) > resumedFrom + 300), {
    message: "the reply to play on after the backchannel",
  });
  assert.equal(await reply.getByTestId("interrupted").count(), 0);
  await screenshot(page, "backchannel");
}
