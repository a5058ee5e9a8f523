// Needs issue 5 and a dealership that records audio: the session review page plays the
// session's recording, fetched with the access token into a blob URL (allowed by the CSP).
import { assert, eventually, login, visible } from "../lib.mjs";

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  const refused = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused/i.test(message.text())) refused.push(message.text());
  });
  await login(page, data.accounts.admin);
  await page.goto(`/sessions/${data.recorded}`);
  const player = await visible(page.getByTestId("session-recording"), 20000);
  const src = await player.getAttribute("src");
  assert.ok(src && src.startsWith("blob:"), `the player plays a blob URL, got ${src}`);
  // The browser decodes the WAV: its length matches what the server stored.
  const seconds = await eventually(
    () => player.evaluate((audio) => (Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : 0)),
    { message: "the recording's duration" },
  );
  assert.ok(Math.abs(seconds * 1000 - data.total_ms) < 100, `duration ${seconds}s vs ${data.total_ms}ms stored`);
  await screenshot(page, "session-review-recording");

  // A session without audio shows no player.
  await page.goto(`/sessions/${data.unrecorded}`);
  await visible(page.getByTestId("review-transcript").locator("li"));
  assert.equal(await page.getByTestId("session-recording").count(), 0);
  assert.deepEqual(refused, []);
}
