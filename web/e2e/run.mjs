// Runs one browser end-to-end spec against a running Sparring server, in Debian's headless
// Chromium driven by playwright-core (no browser is ever downloaded).
//
//   E2E_BASE_URL=http://127.0.0.1:8123 E2E_DATA='{"accounts":{...}}' node e2e/run.mjs auth
//
// E2E_ARTIFACTS: folder for screenshots; E2E_FAKE_AUDIO: a WAV played as the microphone.
// The pytest module tests/test_web_e2e.py starts the server, creates the accounts and calls this.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { PATIENCE_MS } from "./lib.mjs";

const name = process.argv[2];
if (!name) {
  console.error("usage: node e2e/run.mjs <spec>");
  process.exit(2);
}
const base = process.env.E2E_BASE_URL;
const data = JSON.parse(process.env.E2E_DATA ?? "{}");
const artifacts = resolve(process.env.E2E_ARTIFACTS ?? "../test-artifacts/web");
mkdirSync(artifacts, { recursive: true });

const args = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
];
// A fake microphone always (Chromium's beep, or the given WAV, looped), with permission granted.
args.push("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream");
if (process.env.E2E_FAKE_AUDIO) args.push(`--use-file-for-fake-audio-capture=${process.env.E2E_FAKE_AUDIO}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  headless: true, // a fresh temporary profile (user data dir) per launch
  args,
});
const problems = [];

/** A new page that records console errors, CSP violations and uncaught exceptions. */
async function newPage({ width = 1280, height = 860 } = {}) {
  const context = await browser.newContext({ baseURL: base, viewport: { width, height } });
  context.setDefaultTimeout(PATIENCE_MS); // clicks, fills and waits: sized for a busy machine
  await context.grantPermissions(["microphone"], { origin: base });
  const page = await context.newPage();
  page.on("console", (msg) => {
    const text = msg.text();
    if (/Content.Security.Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  return page;
}

async function screenshot(page, label) {
  const path = resolve(artifacts, `${label}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

const started = Date.now();
try {
  const spec = await import(`./specs/${name}.mjs`);
  await spec.default({ base, data, newPage, screenshot, browser });
  if (problems.length) throw new Error(`browser problems:\n  ${problems.join("\n  ")}`);
  console.log(`PASS ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
} catch (error) {
  console.error(`FAIL ${name}: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
