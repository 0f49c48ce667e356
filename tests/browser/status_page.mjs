// The status page in Debian's Chromium, headless (tests/demo_test.sh runs
// it against a live `promowatch demo`): it renders with no console errors,
// shows the assigned partitions, a moving watermark, the firing alert of the
// demo's injected anomaly, the top campaigns, the leading one's user
// segments and the plan's targets; a screenshot is kept.
// Usage: node status_page.mjs URL SCREENSHOT.png [SECONDS]
import { chromium } from "playwright-core";

const [url, screenshot, seconds = "60"] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node status_page.mjs URL SCREENSHOT.png [SECONDS]");
  process.exit(2);
}
const deadline = Date.now() + Number(seconds) * 1000;
const left = () => Math.max(1000, deadline - Date.now());

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
let failed = false;
try {
  // (Playwright gives every context a fresh profile: a fresh user data dir.)
  const context = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
  const page = await context.newPage();
  page.on("console", m => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  page.on("pageerror", e => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", r => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("request", r => {
    if (!r.url().startsWith(new URL(url).origin) && !r.url().startsWith("data:"))
      problems.push(`request outside the page's origin: ${r.url()}`);
  });

  // What the page shows, polled: each condition counts once seen (the
  // demo's anomaly fires for seconds only), and the screenshot is taken the
  // first time everything is on the page at once.
  const look = () => page.evaluate(() => {
    const text = sel => document.querySelector(sel)?.innerText || "";
    const rows = [...document.querySelectorAll("#campaigns tbody tr")].map(r => r.innerText);
    return { updated: document.body.dataset.updated !== undefined, input: text("#input"),
             tile: text('[data-tile="Input"]'), watermark: text("#eventtime .kv").split("\n")[1] || "",
             alerts: text("#alerts"), campaigns: rows, checkpoints: text("#checkpoints"),
             segments: [...document.querySelectorAll("#segments tbody tr")].map(r => r.innerText),
             plan: [...document.querySelectorAll("#plan tbody tr")].map(r => r.innerText) };
  });
  const conditions = {
    "data from /v1/status": v => v.updated,
    "the assigned partitions (clickstream/0..3 read)": v =>
      ["clickstream/0", "clickstream/1", "clickstream/2", "clickstream/3"].every(p => v.input.includes(p)),
    "input flowing (records/s in the Input tile)": v => /[1-9][0-9,]* records\/s/.test(v.tile),
    "the injected anomaly firing (low_ctr on douyin)": v =>
      /firing/.test(v.alerts) && v.alerts.includes("low_ctr") && v.alerts.includes("douyin"),
    "the top campaigns (c0 among them, with CTR and CVR)": v =>
      v.campaigns.length >= 3 && v.campaigns.some(r => r.startsWith("c0")) && /\d\.\d\d%/.test(v.campaigns[0]),
    "a committed checkpoint": v => /\bok\b/.test(v.checkpoints),
    "the leading campaign by user segment (new users, with CVR)": v =>
      v.segments.some(r => r.startsWith("new") && /\d\.\d\d%/.test(r)),
    "the plan's targets (c0's GMV: actual, projected, share of target)": v =>
      v.plan.some(r => r.startsWith("c0") && r.includes("gmv") && /[0-9][0-9,.]*\s+[0-9][0-9,.]*\s+\d+\.\d\d%/.test(r)),
  };
  const seen = new Set();
  let firstWatermark = null, moving = false, shot = false;
  await page.goto(url, { timeout: left() });
  while (Date.now() < deadline && !(shot && moving && seen.size === Object.keys(conditions).length)) {
    const v = await look();
    let all = true;
    for (const [what, holds] of Object.entries(conditions)) {
      if (!holds(v)) { all = false; continue; }
      if (!seen.has(what)) console.log(`ok: ${what}`);
      seen.add(what);
    }
    if (/20\d\d-/.test(v.watermark)) {
      if (firstWatermark === null) firstWatermark = v.watermark;
      if (!moving && v.watermark !== firstWatermark) {
        moving = true;
        console.log(`ok: a moving watermark (${firstWatermark.trim()} -> ${v.watermark.trim()})`);
      }
    }
    if (all && !shot) {
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`screenshot: ${screenshot}`);
      shot = true;
    }
    await new Promise(r => setTimeout(r, 250));
  }
  const missing = Object.keys(conditions).filter(c => !seen.has(c));
  if (!moving) missing.push("a moving watermark");
  if (missing.length) throw new Error(`the page never showed: ${missing.join("; ")}`);
  if (!shot) throw new Error("the page never showed everything at once (no screenshot taken)");
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.message}`);
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(`FAIL: ${problems.length} problem(s) in the browser:\n  ${problems.join("\n  ")}`);
  failed = true;
}
process.exit(failed ? 1 : 0);
