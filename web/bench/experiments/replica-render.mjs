#!/usr/bin/env node
// Experiment behind a suggestion (not part of run.mjs): how long a consultant's
// browser needs to rebuild *and render* the keyframe of a heavy page, with the
// Replayer as the console uses it, and whether CSS injected into the replica
// (`insertStyleRules`, as the console's REPLICA_CSS does) with
// `content-visibility: auto` lets Chromium skip style and layout of what is
// off screen.
//
//   node bench/experiments/replica-render.mjs [nodes=100000] [runs=2]
//
// The keyframe: @rrweb/record (defaults) on the generated page. The player: a
// page with the Replayer in live mode; time from addEvent(FullSnapshot) to the
// second animation frame after 'fullsnapshot-rebuilded' (the first frame
// that shows it has been produced), and the page's long tasks.
import { launch, startEnv, sleep, summary } from '../lib.mjs';

const nodes = Number(process.argv[2]) || 100_000;
const runs = Number(process.argv[3]) || 2;

const VARIANTS = {
  as_today: [],
  // Every element: the most Chromium can skip, and the most layout risk
  // (each element gets layout, style and paint containment while off screen).
  content_visibility_all: [
    'body * { content-visibility: auto; contain-intrinsic-size: auto 40px; }',
  ],
  // Only the first two levels under <body> (sections, cards): less risk.
  content_visibility_top2: [
    'body > *, body > * > * { content-visibility: auto; contain-intrinsic-size: auto 300px; }',
  ],
};

const env = await startEnv();
const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const rec = await ctx.newPage();
  await rec.goto(`${env.site.origin}/rr-record?page=heavy&nodes=${nodes}`, { timeout: 120_000 });
  await sleep(300);
  const events = await rec.evaluate(() => {
    const out = [];
    const stop = window.__rr.record({ emit: (e) => out.push(e) });
    stop();
    return JSON.stringify(out.filter((e) => e.type === 4 || e.type === 2));
  });
  await rec.close();
  const result = {};
  for (const [name, rules] of Object.entries(VARIANTS)) {
    const xs = [];
    const lts = [];
    for (let i = 0; i < runs; i++) {
      const page = await ctx.newPage();
      await page.goto(`${env.site.origin}/rr-play`);
      await page.evaluate(() => {
        window.__lt = [];
        new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__lt.push(e.duration))).observe({ type: 'longtask' });
      });
      const r = await page.evaluate(([json, rules]) => new Promise((resolve) => setTimeout(() => {
        const evs = JSON.parse(json);
        const now = Date.now();
        for (const e of evs) e.timestamp = now;
        const { Replayer } = window.__rrReplay;
        const t0 = performance.now();
        const rp = new Replayer([], { root: document.getElementById('root'), liveMode: true, mouseTail: false, showWarning: false, insertStyleRules: rules });
        rp.on('fullsnapshot-rebuilded', () => {
          const rebuilt = performance.now() - t0;
          requestAnimationFrame(() => requestAnimationFrame(() => resolve({ rebuilt, rendered: performance.now() - t0 })));
        });
        rp.startLive(now);
        for (const e of evs) rp.addEvent(e);
      }, 0)), [events, rules]);
      await sleep(300);
      lts.push(await page.evaluate(() => window.__lt));
      xs.push(r);
      await page.close();
    }
    result[name] = {
      rules,
      rebuilt_ms: summary(xs.map((x) => x.rebuilt)),
      rendered_ms: summary(xs.map((x) => x.rendered)),
      longest_task_ms: summary(lts.map((l) => Math.max(0, ...l))),
    };
  }
  process.stdout.write(JSON.stringify({ nodes, runs, keyframe_chars: events.length, result }, null, 2) + '\n');
} finally {
  await browser.close();
  await env.close();
}
process.exit(0);
