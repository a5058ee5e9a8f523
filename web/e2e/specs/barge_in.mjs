// Needs issue 5: the microphone speaks again while the reply plays: playback of that reply stops
// at once, it is marked interrupted, and the next reply plays without a sample more of it.
import { assert, eventually, login, playedMs, recordPlaybackReports, say, scriptedMicrophone, visible } from "../lib.mjs";
import { heard, startVoiceTraining } from "./voice.mjs";

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await scriptedMicrophone(page, data.speech);
  await recordPlaybackReports(page);
  const reports = () => page.evaluate(() => window.__playbackReports);
  await login(page, data.accounts.user);
  await startVoiceTraining(page);
  await say(page);
  await heard(page);
  const first = await visible(page.locator('li[data-role="assistant"]'));
  const messageId = await first.getAttribute("data-message-id");
  // Talk over the reply once the user has heard some of it.
  await eventually(async () => (await reports()).some((r) => playedMs(r, messageId) >= 500), { message: "the reply to be heard" });
  const speaking = say(page);
  await visible(page.locator(`li[data-message-id="${messageId}"]`).getByTestId("interrupted"));
  await speaking;

  // The player's first report after the flush holds what was heard of the interrupted reply...
  const flushed = await eventually(async () => (await reports()).find((r) => r.flushes >= 1), {
    message: "the playback worklet's report after the flush",
  });
  const before = playedMs(flushed, messageId);
  assert.ok(before > 0, "some of the reply was heard before the barge-in");
  // ... and no later report has more of it, up to a second into the next reply.
  const next = await visible(page.locator('li[data-role="assistant"]').nth(1));
  const nextId = await next.getAttribute("data-message-id");
  await eventually(async () => (await reports()).some((r) => playedMs(r, nextId) >= 1000), { message: "the next reply to be heard" });
  const after = (await reports()).filter((r) => r.flushes >= 1).map((r) => playedMs(r, messageId));
  assert.ok(after.every((ms) => ms === before), `no audio of the interrupted reply played after 'interrupted' (${before} -> ${after.join(", ")} ms)`);
  await screenshot(page, "barge-in");
}
