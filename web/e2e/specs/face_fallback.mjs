// Issue 17: face to face where the photoreal avatar (LiveAvatar, the fake of tests/fakes) fails:
// `data.case` "start_failed" (the provider refuses to start: the server falls back) or
// "room_failed" (it starts, but the browser cannot join its video room: the page falls back and
// resumes the session for the built-in face). Either way a short notice shows, the built-in avatar
// appears, and the conversation goes on: a spoken turn gets a reply the trainee hears.
import { alerts, assert, eventually, login, say, scriptedMicrophone, visible } from "../lib.mjs";
import { faceLog, startFaceToFace, watchFace } from "./face_to_face.mjs";

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await scriptedMicrophone(page, data.speech);
  await watchFace(page);
  await login(page, data.accounts.user);
  // Waits for the built-in avatar, which only shows once LiveAvatar has failed.
  await startFaceToFace(page, { persona: "Sam Patel" });
  const notice = await visible(page.getByTestId("avatar-notice"));
  const text = (await notice.textContent()) ?? "";
  const events = (await faceLog(page)).events;
  if (data.case === "room_failed") {
    // The server had LiveAvatar up (its room handed over), the page could not join it.
    assert.ok(events.some((e) => e.type === "avatar.ready") && !events.some((e) => e.type === "avatar.error"), events.map((e) => e.type).join(","));
    assert.match(text, /built-in avatar/);
  } else {
    assert.ok(events.some((e) => e.type === "avatar.error"), "the server said the avatar failed");
  }
  const avatar = await visible(page.getByTestId("avatar"));
  await eventually(async () => (await page.getByTestId("face").getAttribute("data-provider")) === "builtin", { message: "the built-in face" });
  await eventually(async () => (await page.getByTestId("voice-state").textContent()) === "Live", { message: "the session live again" });
  await screenshot(page, `face-fallback-${data.case}`);

  // The conversation goes on, heard through this page now.
  const said = await page.evaluate(() => performance.now());
  await say(page);
  await visible(page.locator('li[data-role="user"]')).catch(async (e) => {
    throw new Error(`${e.message}\nalerts: ${await alerts(page)}`);
  });
  await visible(page.locator('li[data-role="assistant"]'));
  await eventually(async () => Number(await page.getByTestId("playback").getAttribute("data-played-ms")) > 0, { message: "the reply heard" });
  await eventually(async () => (await faceLog(page)).changes.some((c) => c.name === "data-state" && c.value === "speaking" && c.t > said), {
    message: "the built-in avatar to speak the reply",
  });
  assert.equal(await avatar.getAttribute("data-look"), "man-young-casual"); // Sam's look, in the fallback face too
  await page.getByRole("button", { name: "End session", exact: true }).click();
  await visible(page.getByRole("button", { name: "Practise again", exact: true }));
}
