// Figure 1's comparison: the cursor through plain rrweb, no chatcast code.
// A recorder page (the same ~4,000-node page, @rrweb/record bundled from
// web/node_modules) sends every event as JSON over a BroadcastChannel to a
// player page of the same origin and context, where a Replayer in live mode
// (startLive(Date.now()), no buffer, the visitor's own timestamps) draws its
// mouse. The time from each page.mouse.move to the Replayer's
// `.replayer-mouse` standing at that position (or a later one) is measured
// exactly like the product's. Run with rrweb's default sampling (mousemove
// 50 ms, mousemoveCallback 500 ms) and, as a control of this harness, with the
// product's (16 / 16).
import { clockOffset, sleep, startEnv } from '../lib.mjs';
import { driveMoves, lags } from './live.mjs';

async function variant(browser, origin, sampling, moves) {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  try {
    const player = await ctx.newPage();
    await player.goto(`${origin}/rr-play`);
    await player.evaluate(() => {
      const now = () => performance.timeOrigin + performance.now();
      const { Replayer } = window.__rrReplay;
      const root = document.getElementById('root');
      const S = (window.__play = { r: null, log: [], events: 0 });
      const ch = new BroadcastChannel('rr-bench');
      ch.onmessage = (m) => {
        const e = JSON.parse(m.data);
        S.events++;
        if (!S.r) {
          if (e.type !== 4) return; // from the Meta event on
          S.r = new Replayer([], { root, liveMode: true, mouseTail: false, showWarning: false, triggerFocus: false, UNSAFE_replayCanvas: false });
          S.r.startLive(Date.now());
          const mouse = root.querySelector('.replayer-mouse');
          let last = '';
          new MutationObserver(() => {
            const t = now();
            const k = `${mouse.style.left},${mouse.style.top}`;
            if (k === last) return;
            last = k;
            const rec = [t, parseFloat(mouse.style.left), parseFloat(mouse.style.top), 0];
            S.log.push(rec);
            requestAnimationFrame(() => (rec[3] = now()));
          }).observe(mouse, { attributes: true, attributeFilter: ['style'] });
        }
        S.r.addEvent(e);
      };
    });
    const rec = await ctx.newPage();
    await rec.goto(`${origin}/rr-record`);
    await rec.evaluate((sampling) => window.__rr.start({ sampling }), sampling);
    await player.waitForFunction(() => window.__play.r !== null);
    await sleep(500);
    const pOff = await clockOffset(player);
    const rOff = await clockOffset(rec);
    await rec.mouse.move(5, 5);
    await sleep(700);
    await rec.evaluate(() => {
      window.__page.moves = [];
      window.__page.trackMoves = true;
    });
    const eventsBefore = await rec.evaluate(() => window.__rr.count);
    await driveMoves(rec, moves);
    await sleep(1200); // rrweb's default batch is 500 ms
    const mv = await rec.evaluate(() => {
      window.__page.trackMoves = false;
      return window.__page.moves;
    });
    const events = (await rec.evaluate(() => window.__rr.count)) - eventsBefore;
    const log = await player.evaluate(() => window.__play.log);
    const index = new Map(mv.map(([, x, y], i) => [`${x},${y}`, i]));
    const src = mv.map(([t]) => ({ t: t + rOff }));
    const obs = log.map(([t, x, y]) => ({ t: t + pOff, k: index.get(`${Math.round(x)},${Math.round(y)}`) }));
    const obsFrame = log.map(([t, x, y, f]) => ({ t: (f || t) + pOff, k: index.get(`${Math.round(x)},${Math.round(y)}`) }));
    return {
      ...lags(src, obs),
      frame_lags: lags(src, obsFrame).lags,
      moves: mv.length,
      observations: obs.length,
      unmatched: obs.filter((o) => o.k === undefined).length,
      events_during_moves: events,
      clock_skew_ms: pOff - rOff,
    };
  } finally {
    await ctx.close();
  }
}

export async function run(cfg) {
  const env = await startEnv();
  const browser = await cfg.launch();
  try {
    return {
      defaults: await variant(browser, env.site.origin, {}, cfg.moves),
      product_sampling: await variant(browser, env.site.origin, { mousemove: 16, mousemoveCallback: 16 }, cfg.moves),
    };
  } finally {
    await browser.close();
    await env.close();
  }
}
