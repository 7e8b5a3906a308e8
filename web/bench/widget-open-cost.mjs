// The open widget's cost on the visitor's page while it keeps clear of the
// page's form fields (it re-checks every 1.5 s): main-thread busy time over
// 15 s on a page with 2,000 form fields, the chat open vs closed, same page,
// same browser. Run: node bench/widget-open-cost.mjs (after `cargo build -p chatcast`).
import { startServer, startSite, addSite, launchBrowser, removeDir } from '../tests/harness.mjs';

const FIELDS = Number(process.env.FIELDS ?? 2000);
const SECONDS = 15;
const body = `<form>${Array.from({ length: FIELDS }, (_, i) => `<label>Field ${i} <input name="f${i}"></label>`).join('<br>')}</form>`;

const server = await startServer();
const site = await startSite(server.url, { '/': body });
site.key = addSite(server.dataDir, 'Bench', site.origin);
const browser = await launchBrowser();
try {
  const rows = [];
  for (const open of [false, true, false, true]) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(`${site.origin}/`);
    await page.getByTestId('widget-launcher').waitFor();
    if (open) await page.getByTestId('widget-launcher').click();
    await page.waitForTimeout(1000);
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Performance.enable');
    const busy = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
    const t0 = await busy();
    await page.waitForTimeout(SECONDS * 1000);
    const ms = ((await busy()) - t0) * 1000;
    rows.push({ open, msPerSecond: ms / SECONDS });
    await ctx.close();
  }
  for (const r of rows) console.log(`chat ${r.open ? 'open  ' : 'closed'}: ${r.msPerSecond.toFixed(2)} ms of main-thread work per second (${FIELDS} form fields)`);
} finally {
  await browser.close();
  await site.close();
  await server.stop();
  removeDir(server.dataDir);
}
