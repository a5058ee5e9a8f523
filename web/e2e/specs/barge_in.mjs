// Needs issue 5: the fake microphone's WAV speaks again while the reply plays (it loops: speech,
// a pause, speech): playback of that reply stops at once and it is marked interrupted.
import { assert, visible } from "../lib.mjs";
import { login } from "../lib.mjs";
import { startVoiceTraining } from "./voice.mjs";

async function playedOf(page, messageId) {
  const played = JSON.parse((await page.getByTestId("playback").getAttribute("data-played")) ?? "{}");
  return played[messageId] ?? 0;
}

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.user);
  await startVoiceTraining(page);
  const turn = await visible(page.locator('li[data-role="assistant"]:has([data-testid="interrupted"])'), 90000);
  const messageId = await turn.getAttribute("data-message-id");
  // The worklet was flushed: the interrupted reply's played figure no longer grows.
  await page.waitForTimeout(250);
  const before = await playedOf(page, messageId);
  await page.waitForTimeout(1000);
  const after = await playedOf(page, messageId);
  assert.ok(before > 0, "some of the reply was heard before the barge-in");
  assert.equal(after, before, `no audio of the interrupted reply played after 'interrupted' (${before} -> ${after} ms)`);
  await screenshot(page, "barge-in");
}
