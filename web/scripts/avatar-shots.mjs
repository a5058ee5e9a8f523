// Screenshots of the built-in avatar's looks for docs/web.md: each look drawn by the app's own
// component (rendered to static SVG through Vite's SSR loader, so no server or sign-in is needed)
// and photographed by Debian's headless Chromium. Writes docs/images/avatar-<look>.png, and
// docs/images/avatar-visemes.png (one look saying each mouth shape) and -demeanours.png.
//
//   cd web && node scripts/avatar-shots.mjs
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { createServer } from "vite";

const out = resolve(import.meta.dirname, "../../docs/images");
mkdirSync(out, { recursive: true });
const vite = await createServer({ root: resolve(import.meta.dirname, ".."), server: { middlewareMode: true }, appType: "custom", logLevel: "error" });
let browser;
try {
  const { renderToStaticMarkup } = await import("react-dom/server");
  const { createElement } = await import("react");
  const { Avatar } = await vite.ssrLoadModule("/src/avatar/Avatar.tsx");
  const { LOOK_IDS, demeanourOf } = await vite.ssrLoadModule("/src/avatar/looks.ts");
  const { VISEMES } = await vite.ssrLoadModule("/src/avatar/visemes.ts");
  const svg = (look, demeanour, viseme = "sil", state = "idle") =>
    renderToStaticMarkup(createElement(Avatar, { look, demeanour, still: { state, viseme, replyMs: undefined } }));
  const page = (cells, width) => `<!doctype html><html><body style="margin:0;background:#fff;font:13px sans-serif">
    <div id="shot" style="display:grid;grid-template-columns:repeat(${width},180px);gap:8px;padding:8px;width:max-content">
    ${cells.map(([label, s]) => `<figure style="margin:0;text-align:center"><div style="width:180px;height:210px">${s}</div><figcaption>${label}</figcaption></figure>`).join("")}
    </div></body></html>`;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  const tab = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  const shoot = async (html, name) => {
    await tab.setContent(html.replaceAll('class="avatar"', 'class="avatar" width="180" height="210"'));
    await tab.locator("#shot").screenshot({ path: resolve(out, name) });
    console.log(`wrote docs/images/${name}`);
  };
  const neutral = demeanourOf({ kind: "customer", difficulty: "medium" });
  for (const look of LOOK_IDS) await shoot(page([[look, svg(look, neutral)]], 1), `avatar-${look}.png`);
  await shoot(page(LOOK_IDS.map((look) => [look, svg(look, neutral)]), 4), "avatar-looks.png");
  await shoot(page(VISEMES.map((v) => [v, svg("woman-middle-business", "neutral", v, "speaking")]), 6), "avatar-visemes.png");
  await shoot(page(["friendly", "neutral", "sceptical", "impatient"].map((d) => [d, svg("man-middle-workwear", d)]), 4), "avatar-demeanours.png");
} finally {
  await browser?.close();
  await vite.close();
}
