// Figure 5: the visitor's main thread on the busy page. The same scripted
// activity (activity.mjs, plus the page's own ticker/feed updates) for the
// same time in three tabs, one after the other:
//   none      the page without the widget
//   idle      the page with the widget, no broadcast
//   watching  the page with the widget, broadcasting, a consultant watching
//   watching_reduced_motion  the same with prefers-reduced-motion (no pulsing dot)
// CDP Performance.getMetrics before and after: ScriptDuration, TaskDuration
// (wall time on the main thread) and ThreadTime (its CPU time, which other
// processes on these 2 cores cannot inflate); long tasks (PerformanceObserver
// 'longtask', buffered from page load) during the window, and for `watching`
// also those between the consent click and the replica (the first snapshot).
import { driveActivity } from '../activity.mjs';
import { grant, openConsultant, openVisitor, replicaShows, sleep, startEnv } from '../lib.mjs';

const METRICS = ['ScriptDuration', 'TaskDuration', 'ThreadTime', 'LayoutDuration', 'RecalcStyleDuration'];

async function metrics(cdp) {
  const { metrics: m } = await cdp.send('Performance.getMetrics');
  const out = {};
  for (const { name, value } of m) if (METRICS.includes(name)) out[name] = value * 1000;
  return out;
}

async function measure(page, cdp, seconds) {
  await cdp.send('Performance.enable', { timeDomain: 'timeTicks' });
  const from = await page.evaluate(() => performance.timeOrigin + performance.now());
  const m0 = await metrics(cdp);
  await page.evaluate(() => window.__page.busy());
  await driveActivity(page, seconds * 1000);
  await page.evaluate(() => window.__page.stop());
  const m1 = await metrics(cdp);
  const to = await page.evaluate(() => performance.timeOrigin + performance.now());
  const lt = await page.evaluate(([a, b]) => window.__page.longtasks.filter(([t]) => t >= a && t <= b), [from, to]);
  const d = {};
  for (const k of METRICS) d[k] = Math.round((m1[k] - m0[k]) * 10) / 10;
  return { ms: Math.round(to - from), ...d, longtasks: lt.length, longtask_ms: Math.round(lt.reduce((a, [, x]) => a + x, 0)), longest_task_ms: Math.round(Math.max(0, ...lt.map(([, x]) => x))) };
}

export async function run(cfg) {
  const env = await startEnv();
  const browser = await cfg.launch();
  const out = {};
  try {
    // none
    {
      const v = await openVisitor(browser, `${env.site.origin}/typical?widget=0`, { cdp: true, sendLog: false, waitWidget: false });
      await sleep(1000);
      out.none = await measure(v.page, v.cdp, cfg.seconds);
      await v.ctx.close();
    }
    // idle
    {
      const v = await openVisitor(browser, `${env.site.origin}/typical`, { cdp: true, sendLog: false });
      await sleep(1000);
      out.idle = await measure(v.page, v.cdp, cfg.seconds);
      await v.ctx.close();
    }
    // watching; then the same with prefers-reduced-motion, which stops the
    // widget's pulsing "viewing" dot (an infinite CSS animation).
    for (const [name, contextOptions] of [['watching', {}], ['watching_reduced_motion', { reducedMotion: 'reduce' }]]) {
      const v = await openVisitor(browser, `${env.site.origin}/typical`, { cdp: true, sendLog: false, contextOptions });
      const c = await openConsultant(browser, env.server.url, {});
      const host = await grant(c, v);
      await replicaShows(host, '#end-marker');
      const shownAt = await v.page.evaluate(() => performance.timeOrigin + performance.now());
      const start = await v.page.evaluate(([shown]) => {
        const lt = window.__page.longtasks.filter(([t]) => t >= window.__yesAt && t <= shown);
        return { longtasks: lt.length, longtask_ms: Math.round(lt.reduce((a, [, x]) => a + x, 0)), longest_task_ms: Math.round(Math.max(0, ...lt.map(([, x]) => x))) };
      }, [shownAt]);
      await sleep(2000); // the first snapshot's garbage is collected before the window opens
      out[name] = await measure(v.page, v.cdp, cfg.seconds);
      out[name].start = start;
      await c.ctx.close();
      await v.ctx.close();
      if (!cfg.reducedMotion) break;
    }
    return out;
  } finally {
    await browser.close();
    await env.close();
  }
}
