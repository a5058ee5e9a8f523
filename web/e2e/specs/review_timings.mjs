// Needs issue 5: a spoken voice turn's timings on the session review page. The trainee sees one
// response time per reply; the dealership admin sees the waterfall with every voice stage
// (end of turn, speech to text, LLM first token, TTS first byte), stored with the answer.
import { assert, login, visible } from "../lib.mjs";

const STAGES = ["End of turn", "Speech to text", "LLM first token", "TTS first byte"];

export default async function ({ data, newPage, screenshot }) {
  const trainee = await newPage();
  await login(trainee, data.accounts.user);
  await trainee.goto(`/sessions/${data.voice_session}`);
  const times = await visible(trainee.getByTestId("response-times"), 20000);
  const row = await visible(times.locator("li").filter({ hasText: "Reply 1" }));
  const shown = (await row.locator(".response-time").textContent()) ?? "";
  assert.match(shown, /^\d+(\.\d)? m?s$/, `a response time, got ${shown}`);
  assert.equal(await trainee.getByTestId("waterfall").count(), 0, "the waterfall is for admins");
  await screenshot(trainee, "review-response-time");

  const admin = await newPage();
  await login(admin, data.accounts.admin);
  await admin.goto(`/sessions/${data.voice_session}`);
  const track = await visible(admin.getByTestId("waterfall").getByRole("list", { name: "Timings for Reply 1" }), 20000);
  for (const stage of STAGES) {
    await visible(track.getByText(new RegExp(`^${stage}: \\d+ ms$`)));
  }
  const marker = (await admin.getByTestId("waterfall").getByText(/^First audio at \d+ ms$/).textContent()) ?? "";
  assert.equal(marker, `First audio at ${data.first_audio_ms} ms`);
  await screenshot(admin, "review-waterfall");
}
