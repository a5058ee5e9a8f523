// Issue 17: face to face with the built-in avatar (no keys: offline voices). Adam listens while the
// scripted microphone speaks, thinks until the reply's first audio, speaks with a moving mouth;
// speech over the reply closes the mouth and it stays shut; captions, response times and the
// scorecard work as in voice mode. A persona's look, picked on the persona page, is the face a
// salesperson then practises with. Prints the avatar's frame rate and main-thread work per frame.
import { alerts, assert, eventually, login, say, scriptedMicrophone, visible } from "../lib.mjs";

/**
 * Records, with performance.now() times, every change of the avatar's data-state / data-viseme,
 * every voice socket event, and each animation frame's script time (Performance API).
 */
export async function watchFace(page) {
  await page.addInitScript(() => {
    const face = (window.__face = { changes: [], events: [], frames: [] });
    const Socket = window.WebSocket;
    window.WebSocket = class extends Socket {
      constructor(...args) {
        super(...args);
        this.addEventListener("message", (e) => {
          if (typeof e.data === "string") face.events.push({ type: JSON.parse(e.data).type, t: performance.now(), data: e.data });
        });
      }
    };
    const raf = window.requestAnimationFrame.bind(window);
    window.requestAnimationFrame = (callback) => raf((stamp) => {
      const start = performance.now();
      callback(stamp);
      face.frames.push({ t: start, ms: performance.now() - start });
    });
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.target.getAttribute?.("data-testid") !== "avatar") continue;
        face.changes.push({ name: r.attributeName, value: r.target.getAttribute(r.attributeName), t: performance.now() });
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state", "data-viseme"] });
  });
}

export const faceLog = (page) => page.evaluate(() => ({ changes: window.__face.changes, events: window.__face.events.map(({ type, t }) => ({ type, t })) }));

export async function startFaceToFace(page, { persona } = {}) {
  await page.goto("/practise");
  if (persona) {
    await page.getByLabel("Role-play a customer").check();
    const select = page.getByLabel("Customer", { exact: true });
    await eventually(async () => (await select.locator("option").count()) > 1, { message: "the customers" });
    const option = select.locator("option").filter({ hasText: persona });
    await select.selectOption(await option.first().getAttribute("value"));
  } else await page.getByLabel("Training with Adam").check();
  await page.getByLabel("Face to face").check();
  await page.getByRole("button", { name: "Start session", exact: true }).click();
  await eventually(async () => (await page.getByTestId("voice-state").textContent()) === "Live", { message: "a live session" });
  return visible(page.getByTestId("avatar"));
}

/** The head's pose over the next `frames` animation frames (distinct values). */
export function headPoses(page, frames = 40) {
  return page.evaluate((n) => new Promise((resolve) => {
    const seen = new Set();
    const step = () => {
      seen.add(document.querySelector('[data-testid="avatar"] [data-part="head"]')?.getAttribute("transform"));
      if (--n > 0) requestAnimationFrame(step);
      else resolve([...seen]);
    };
    requestAnimationFrame(step);
  }), frames);
}

/**
 * 1.5 s of the page while a reply plays: the avatar's frames (rate, script time per frame) and the
 * whole page's main-thread work from Chromium's own counters (CDP Performance.getMetrics).
 */
async function measure(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const metrics = async () => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
  const t0 = await page.evaluate(() => performance.now());
  const m0 = await metrics();
  await page.waitForFunction((until) => performance.now() >= until, t0 + 1500, { polling: 100 });
  const m1 = await metrics();
  const t1 = await page.evaluate(() => performance.now());
  await cdp.detach();
  const frames = await framesBetween(page, t0, t1);
  const perSecond = (name) => ((m1[name] - m0[name]) * 1e6) / (t1 - t0); // ms of work per s
  const task = perSecond("TaskDuration");
  const summary = `main thread ${task.toFixed(1)} ms/s` + (frames.frames ? ` = ${(task / frames.fps).toFixed(2)} ms per frame` : "") +
    ` (script ${perSecond("ScriptDuration").toFixed(1)}, style ${perSecond("RecalcStyleDuration").toFixed(1)}, layout ${perSecond("LayoutDuration").toFixed(1)} ms/s; the rest is paint and messages)`;
  return { ...frames, summary };
}

/** Frame rate and script time per frame over [from, to] (ms, performance.now()). */
export async function framesBetween(page, from, to) {
  const frames = await page.evaluate(([a, b]) => window.__face.frames.filter((f) => f.t >= a && f.t <= b), [from, to]);
  const ms = frames.map((f) => f.ms).sort((x, y) => x - y);
  return { frames: frames.length, fps: (frames.length * 1000) / (to - from), meanMs: ms.reduce((s, x) => s + x, 0) / (ms.length || 1), p95Ms: ms[Math.floor(ms.length * 0.95)] ?? 0 };
}

async function lookOnPersonaPage({ data, newPage, screenshot }) {
  const admin = await newPage();
  await login(admin, data.accounts.admin);
  await admin.goto("/personas");
  // The dealership's face-to-face settings: switched off, a salesperson's face-to-face session is
  // plain voice with a notice; on again (the default), the face shows.
  const settings = admin.getByRole("form", { name: "Face to face" });
  const offered = settings.getByRole("checkbox", { name: "Offer face to face" });
  await visible(offered);
  assert.ok(await offered.isChecked(), "face to face is on by default");
  await visible(settings.getByTestId("avatar-minutes").getByText("Photoreal minutes this month: 0.0"));
  await offered.uncheck();
  await settings.getByRole("button", { name: "Save" }).click();
  await visible(settings.getByRole("status").getByText("Saved."));
  const off = await newPage();
  await login(off, data.accounts.user);
  await off.goto("/practise");
  await off.getByLabel("Training with Adam").check();
  await off.getByLabel("Face to face").check();
  await off.getByRole("button", { name: "Start session", exact: true }).click();
  await visible(off.getByTestId("avatar-notice"));
  assert.equal(await off.getByTestId("avatar").count(), 0, "no face when the dealership has face to face off");
  await off.getByRole("button", { name: "End session", exact: true }).click();
  await offered.check();
  await settings.getByRole("button", { name: "Save" }).click();
  await admin.reload();
  await visible(offered);
  assert.ok(await offered.isChecked(), "switched on again");

  await admin.getByRole("button", { name: "Copy Derek Olsen" }).click();
  const form = admin.getByRole("form", { name: "New persona" });
  await form.getByRole("textbox", { name: "Name", exact: true }).fill("Derek Face");
  await form.getByRole("combobox", { name: "Face-to-face look" }).selectOption("woman-senior-classic");
  const preview = await visible(form.getByTestId("avatar"));
  assert.equal(await preview.getAttribute("data-look"), "woman-senior-classic");
  await screenshot(admin, "face-look-picker");
  await form.getByRole("button", { name: "Save" }).click();
  await visible(admin.getByRole("heading", { name: "Derek Face" }));

  const user = await newPage();
  await user.emulateMedia({ reducedMotion: "reduce" });
  await login(user, data.accounts.user);
  const avatar = await startFaceToFace(user, { persona: "Derek Face" });
  // prefers-reduced-motion: the head holds still (the mouth and blinks still work).
  assert.equal((await headPoses(user, 90)).length, 1, "no head motion under prefers-reduced-motion");
  await eventually(async () => (await avatar.getAttribute("data-look")) === "woman-senior-classic", { message: "the persona's look" });
  // Derek is "skeptical" in his own words: the face looks it.
  assert.equal(await avatar.getAttribute("data-demeanour"), "sceptical");
  await screenshot(user, "face-persona-look");
  await user.getByRole("button", { name: "End session", exact: true }).click();
  await visible(user.getByRole("button", { name: "Practise again", exact: true }));
}

export default async function (ctx) {
  const { data, newPage, screenshot } = ctx;
  const page = await newPage();
  await scriptedMicrophone(page, data.speech);
  await watchFace(page);
  await login(page, data.accounts.user);
  const avatar = await startFaceToFace(page);
  assert.equal(await avatar.getAttribute("data-look"), "man-middle-business"); // Adam's, from avatar.ready
  assert.equal(await avatar.getAttribute("data-state"), "idle");
  assert.ok((await headPoses(page, 90)).length > 1, "the idle face is never frozen: small head motion");
  // The server answered `start.avatar` with the built-in face, quietly (no keys: no notice).
  await eventually(async () => (await faceLog(page)).events.some((e) => e.type === "avatar.ready"), { message: "avatar.ready" });
  assert.equal(await page.getByTestId("avatar-notice").count(), 0);

  const said = await page.evaluate(() => performance.now());
  await say(page);
  const reply = await visible(page.locator('li[data-role="assistant"]')).catch(async (e) => {
    throw new Error(`${e.message}\nalerts: ${await alerts(page)}`);
  });
  const messageId = await reply.getAttribute("data-message-id");
  // Speaking, with the mouth moving, while the reply plays.
  const speakingAt = await eventually(async () => (await faceLog(page)).changes.find((c) => c.name === "data-state" && c.value === "speaking" && c.t > said)?.t, {
    message: "the avatar to speak",
  });
  await eventually(async () => new Set((await faceLog(page)).changes.filter((c) => c.name === "data-viseme" && c.t > speakingAt && c.value !== "sil").map((c) => c.value)).size >= 4, {
    message: "four different mouth shapes during the reply",
  });
  await screenshot(page, `face-to-face-speaking${data.words ? "-words" : ""}`);
  // With a voice that times its words the lips follow `audio.words`; without, estimated timings.
  const words = (await faceLog(page)).events.some((e) => e.type === "audio.words");
  assert.equal(words, Boolean(data.words), `audio.words ${words ? "came" : "did not come"}`);
  const states = (await faceLog(page)).changes.filter((c) => c.name === "data-state" && c.t > said).map((c) => c.value);
  const order = ["listening", "thinking", "speaking"].map((s) => states.indexOf(s));
  assert.ok(order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1])), `listening, thinking, speaking in order (${states.join(" → ")})`);

  // Performance while speaking (printed for docs/benchmarks.md; a voice-only turn below is the baseline).
  const face = await measure(page);
  const stillSpeaking = (await avatar.getAttribute("data-state")) === "speaking";
  console.log(`face to face (${data.words ? "audio.words" : "timings from text"}) while speaking${stillSpeaking ? "" : " (the reply ended inside the window)"}: ${face.fps.toFixed(1)} fps, ` +
    `avatar frame script ${face.meanMs.toFixed(3)} ms mean / ${face.p95Ms.toFixed(3)} ms p95 (Performance API); ${face.summary}`);

  // Talk over the reply: the mouth shuts and stays shut until the next reply speaks.
  const speaking = say(page);
  await visible(page.locator(`li[data-message-id="${messageId}"]`).getByTestId("interrupted"));
  await speaking;
  const log = await faceLog(page);
  const hushedAt = log.events.find((e) => (e.type === "playback.pause" || e.type === "interrupted") && e.t > speakingAt)?.t;
  assert.ok(hushedAt, "the server paused or interrupted the reply");
  const rest = log.changes.find((c) => c.name === "data-viseme" && c.value === "sil" && c.t >= hushedAt);
  const nextSpeaking = log.changes.find((c) => c.name === "data-state" && c.value === "speaking" && c.t > hushedAt)?.t ?? Infinity;
  // The mouth may already have been between words: then no change is needed, it is shut.
  const lastBefore = log.changes.filter((c) => c.name === "data-viseme" && c.t < hushedAt).at(-1)?.value;
  assert.ok(rest || lastBefore === "sil", "the mouth rests after the barge-in");
  const moved = log.changes.filter((c) => c.name === "data-viseme" && c.value !== "sil" && c.t > (rest?.t ?? hushedAt) && c.t < nextSpeaking);
  assert.equal(moved.length, 0, `no mouth movement after the interruption until the next reply (${moved.map((c) => c.value).join(",")})`);
  console.log(`mouth shut ${rest ? (rest.t - hushedAt).toFixed(0) : 0} ms after ${log.events.find((e) => e.t === hushedAt).type}`);

  // As in voice mode: captions, the next reply, response times, the scorecard.
  await visible(page.locator('li[data-role="assistant"]').nth(1));
  await visible(page.getByTestId("metrics").getByTestId("response-times").getByText("response time"), 180000);
  await page.getByRole("button", { name: "End session", exact: true }).click();
  await visible(page.getByRole("button", { name: "Practise again", exact: true }));
  await screenshot(page, "face-to-face-ended");

  // Baseline: the same turn in plain voice mode, measured the same way.
  await page.getByRole("button", { name: "Practise again", exact: true }).click();
  await page.getByLabel("Training with Adam").check();
  await page.getByLabel("Talk (microphone)").check();
  await page.getByRole("button", { name: "Start session", exact: true }).click();
  await eventually(async () => (await page.getByTestId("voice-state").textContent()) === "Live", { message: "a live voice session" });
  await say(page);
  await eventually(async () => Number(await page.getByTestId("playback").getAttribute("data-played-ms")) > 0, { message: "the voice reply heard" });
  console.log(`voice only while speaking (baseline): ${(await measure(page)).summary}`);
  await page.getByRole("button", { name: "End session", exact: true }).click();

  await lookOnPersonaPage(ctx);
}
