// Measures the JavaScript the first page load needs (the scripts and modulepreloads that
// dist/index.html references, gzipped) and fails above the budget. Lazy pages are not counted.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 250;
const dist = resolve(import.meta.dirname, "../dist");
const html = readFileSync(resolve(dist, "index.html"), "utf8");
const scripts = [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="([^"]+\.js)"/g)].map((m) => m[1]);
let total = 0;
for (const src of scripts) {
  const gz = gzipSync(readFileSync(resolve(dist, "." + src)), { level: 9 }).length;
  total += gz;
  console.log(`${(gz / 1024).toFixed(1).padStart(7)} KB gz  ${src}`);
}
console.log(`initial route JavaScript: ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB)`);
if (scripts.length === 0 || total > BUDGET_KB * 1024) process.exit(1);
