// Measures the JavaScript the first page load needs (the scripts and modulepreloads that
// dist/index.html references, gzipped) and fails above the budget. Lazy pages are not counted,
// except the face-to-face view (the avatar), which has its own budget: its chunk and every chunk
// it imports that the first load does not already have, with and without LiveAvatar's video client
// (livekit-client: a further chunk, loaded only when the server answers with LiveAvatar).
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 250;
const AVATAR_BUDGET_KB = 150;
const dist = resolve(import.meta.dirname, "../dist");
const html = readFileSync(resolve(dist, "index.html"), "utf8");
const scripts = [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="([^"]+\.js)"/g)].map((m) => m[1]);
const gz = (file) => gzipSync(readFileSync(resolve(dist, file)), { level: 9 }).length;
const kb = (bytes) => (bytes / 1024).toFixed(1);
let total = 0;
for (const src of scripts) {
  const size = gz("." + src);
  total += size;
  console.log(`${kb(size).padStart(7)} KB gz  ${src}`);
}
console.log(`initial route JavaScript: ${kb(total)} KB gzipped (budget ${BUDGET_KB} KB)`);
let failed = scripts.length === 0 || total > BUDGET_KB * 1024;

/** A lazy module's chunks (its own and what it imports, recursively) that `have` does not hold. */
const manifestPath = resolve(dist, ".vite/manifest.json");
if (!existsSync(manifestPath)) {
  console.error("dist/.vite/manifest.json is missing: rebuild (npm run build) to measure the face-to-face view");
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
function chunks(key, have, seen = new Set()) {
  const entry = manifest[key];
  if (!entry || have.has("/" + entry.file) || seen.has(entry.file)) return seen;
  seen.add(entry.file);
  for (const imported of entry.imports ?? []) chunks(imported, have, seen);
  return seen;
}
const initial = new Set(scripts);
const face = chunks("src/pages/practise/FaceToFace.tsx", initial);
const faceSize = [...face].reduce((sum, file) => sum + gz(file), 0);
console.log(`face-to-face view (built-in avatar): ${kb(faceSize)} KB gzipped (budget ${AVATAR_BUDGET_KB} KB): ${[...face].join(", ")}`);
if (face.size === 0 || faceSize > AVATAR_BUDGET_KB * 1024) failed = true;
const live = chunks("src/avatar/liveavatar.ts", new Set([...initial, ...[...face].map((f) => "/" + f)]));
const liveSize = [...live].reduce((sum, file) => sum + gz(file), 0);
console.log(`face-to-face view with LiveAvatar's video client: ${kb(faceSize + liveSize)} KB gzipped (budget ${AVATAR_BUDGET_KB} KB): + ${[...live].join(", ")}`);
if (live.size === 0 || faceSize + liveSize > AVATAR_BUDGET_KB * 1024) failed = true;
if (failed) process.exit(1);
