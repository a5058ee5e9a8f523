// Small helpers shared by the specs (assertions wait, because the UI is asynchronous).
//
// Specs wait for a state of the page (an element, an attribute, an event), never for a fixed
// time. Every wait has at least the same generous deadline, PATIENCE_MS (E2E_PATIENCE_MS, default
// 90 s; a shorter timeout given to visible/eventually is raised to it, and run.mjs makes it every
// page's default): a deadline only decides how long a broken page takes to fail, so it is sized
// for a busy machine (load 5 on 2 cores), not an idle one. Name elements by role and exact
// accessible name (navLink, exact: true): a substring name matches "Manage staff" as well as "Staff".
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

export { assert };

export const PATIENCE_MS = Number(process.env.E2E_PATIENCE_MS ?? 90000);

export async function login(page, account) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("button", { name: "Sign out", exact: true }).waitFor({ timeout: PATIENCE_MS });
}

/** The main navigation's link called exactly `name` (not a page's "Manage staff" link). */
export function navLink(page, name) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
}

export async function visible(locator, timeout = PATIENCE_MS) {
  await locator.first().waitFor({ state: "visible", timeout: Math.max(timeout, PATIENCE_MS) });
  return locator.first();
}

export async function eventually(check, { timeout = PATIENCE_MS, interval = 100, message = "condition" } = {}) {
  const deadline = Date.now() + Math.max(timeout, PATIENCE_MS);
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${message}${last ? `: ${last.message}` : ""}`);
}

/** Records every request to the API so a spec can count them. */
export function recordRequests(page) {
  const seen = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith("/api/")) seen.push(`${request.method()} ${url.pathname}`);
  });
  return seen;
}

export async function navNames(page) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents();
}

/**
 * A microphone the spec speaks into when the conversation is ready for it: getUserMedia gives
 * the page a stream that stays silent until `say(page)` plays the WAV at `wavPath` once. (A WAV
 * looped by Chromium's --use-file-for-fake-audio-capture speaks on a fixed schedule instead,
 * which on a busy machine falls before the reply has started, or over it.) The page's own audio
 * path is unchanged: MediaStreamSource -> capture worklet -> WebSocket. `more` names further
 * WAVs (`{backchannel: path}`) that `say(page, name)` plays instead.
 */
export async function scriptedMicrophone(page, wavPath, more = {}) {
  const clips = Object.fromEntries(
    Object.entries({ speech: wavPath, ...more }).map(([name, path]) => [name, readFileSync(path).toString("base64")]),
  );
  await page.addInitScript((encoded) => {
    const mic = { context: undefined, destination: undefined, clips: {}, speech: undefined, said: 0 };
    window.__sparringMicrophone = mic;
    navigator.mediaDevices.getUserMedia = async () => {
      mic.context ??= new AudioContext();
      for (const [name, data] of Object.entries(encoded)) {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        mic.clips[name] ??= await mic.context.decodeAudioData(bytes.buffer.slice(0));
      }
      mic.speech = mic.clips.speech;
      mic.destination = mic.context.createMediaStreamDestination(); // a fresh stream per call
      await mic.context.resume();
      return mic.destination.stream;
    };
  }, clips);
}

/** Speaks one of the scripted microphone's WAVs (the main one unless named) once; resolves
 * when it has been played to the end. */
export async function say(page, name = "speech") {
  await page.evaluate((clip) => new Promise((resolve, reject) => {
    const mic = window.__sparringMicrophone;
    if (!mic?.destination) return reject(new Error("the page has not opened the scripted microphone"));
    if (!mic.clips[clip]) return reject(new Error(`the scripted microphone has no clip "${clip}"`));
    const source = mic.context.createBufferSource();
    source.buffer = mic.clips[clip];
    source.connect(mic.destination);
    source.onended = () => resolve(++mic.said);
    source.start();
  }), name);
}

/**
 * Keeps every progress report of the reply player (the playback worklet) in
 * `window.__playbackReports`, with the time it arrived: {played: [{messageId, playedSamples}],
 * flushes, sampleRate, ...}. A report with `flushes >= n` was sent after the n-th flush.
 */
export async function recordPlaybackReports(page) {
  await page.addInitScript(() => {
    const reports = (window.__playbackReports = []);
    const watched = new WeakSet();
    const post = MessagePort.prototype.postMessage;
    MessagePort.prototype.postMessage = function (message, ...rest) {
      if (message?.type === "push" && !watched.has(this)) {
        watched.add(this); // the player's port: the app pushes reply audio through it
        this.addEventListener("message", (event) => {
          if (event.data?.type === "progress") reports.push({ ...event.data, at: performance.now() });
        });
      }
      return post.call(this, message, ...rest);
    };
  });
}

/** Milliseconds of `messageId` played, as one playback report says. */
export function playedMs(report, messageId) {
  const entry = report.played.find((p) => p.messageId === messageId);
  return entry ? (entry.playedSamples / report.sampleRate) * 1000 : 0;
}

/** The text of every alert on the page, to say why a voice turn never came. */
export async function alerts(page) {
  return (await page.getByRole("alert").allTextContents()).join(" | ") || "none";
}
