// Needs issue 5: a voice turn (fake microphone; the default offline voice, Piper, whose words the
// server times from the voice's own phoneme durations): the reply's caption highlights the word
// being spoken, following `audio.words` against the playback clock, until the last word.
import { assert, eventually, login, visible } from "../lib.mjs";
import { startVoiceTraining } from "./voice.mjs";

/** The caption's playback position and each word's state and timing, read in one go. */
async function sample(caption) {
  return caption.evaluate((node) => ({
    playedMs: Number(node.getAttribute("data-played-ms")),
    words: [...node.querySelectorAll("[data-word-state]")].map((w) => ({
      text: w.textContent,
      state: w.getAttribute("data-word-state"),
      start: Number(w.getAttribute("data-start-ms")),
      end: Number(w.getAttribute("data-end-ms")),
    })),
  }));
}

export default async function ({ data, newPage, screenshot }) {
  const page = await newPage();
  await login(page, data.accounts.user);
  await startVoiceTraining(page);
  const reply = await visible(page.locator('li[data-role="assistant"]'), 90000);
  const caption = await visible(reply.getByTestId("caption"), 60000);
  const current = new Set();
  let shot = false;
  const last = await eventually(async () => {
    const now = await sample(caption);
    for (const word of now.words) {
      // Every word's state agrees with the playback clock the caption was drawn at.
      const expected = now.playedMs >= word.end ? "spoken" : now.playedMs >= word.start ? "current" : "upcoming";
      assert.equal(word.state, expected, `${word.text} at ${now.playedMs} ms (${word.start}-${word.end})`);
      if (word.state === "current") current.add(`${word.start}:${word.text}`);
    }
    if (!shot && now.words.some((w) => w.state === "current")) {
      await screenshot(page, "captions");
      shot = true;
    }
    // Done once the reply has streamed and played out (the resampler may hold back the last ms).
    const done = now.words.length > 0 && now.words.slice(0, -1).every((w) => w.state === "spoken") &&
      now.words.at(-1).state !== "upcoming" && (await reply.getAttribute("data-streaming")) === null;
    return done ? now : false;
  }, { timeout: 90000, interval: 40, message: "every word of the reply to be spoken" });
  assert.ok(current.size >= 3, `the highlight moved from word to word (${[...current].join(", ")})`);
  // The timed words spell the reply, and follow each other in time.
  const text = ((await reply.locator("p").first().textContent()) ?? "").split(/\s+/).filter(Boolean).join(" ");
  assert.equal(last.words.map((w) => w.text).join(" "), text);
  for (let i = 1; i < last.words.length; i++) assert.ok(last.words[i - 1].end <= last.words[i].start);
}
