// Figures 1, 2 and 4 on the product, one broadcast of the ~4,000-node page:
//   keyframe      the first keyframe the visitor's page sends (figure 4)
//   dom           #counter changes every 97 ms on the visitor's page; the time
//                 until the replica's DOM shows it, and the same frames fed to a
//                 second Replayer in the same window with rrweb's 1 s live buffer
//                 (events stamped on arrival, startLive(now - 1000))
//   cursor        page.mouse.move at 60 Hz; the time until the console's
//                 replica-cursor stands at that position (or a later one)
import {
  bundle, clockOffset, grant, openConsultant, openVisitor, replicaShows, screenFrames, sleep, startEnv,
} from '../lib.mjs';

/** Move i of the pointer path: a zigzag at 7 px per move (~420 px/s at 60 Hz), every position unique. */
export function movePos(i) {
  const row = Math.floor(i / 80);
  const col = i % 80;
  return [40 + 7 * (row % 2 ? 79 - col : col), 120 + 3 * row];
}

/** page.mouse.move n times, one every 1000/hz ms on a fixed schedule. */
export async function driveMoves(page, n, hz = 60) {
  const period = 1000 / hz;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const wait = t0 + i * period - performance.now();
    if (wait > 1) await sleep(wait);
    const [x, y] = movePos(i);
    await page.mouse.move(x, y);
  }
}

/**
 * Lag of each source event: the first observation that shows it or anything
 * later. `src` [{t, k}] in order (k: its index), `obs` [{t, k}] in time order.
 */
export function lags(src, obs) {
  const out = [];
  let next = 0;
  for (const o of obs) {
    if (o.k === undefined || o.k < next) continue;
    while (next <= o.k && next < src.length) {
      out.push(o.t - src[next].t);
      next++;
    }
  }
  return { lags: out, unseen: src.length - next };
}

/** Cursor observations in the console → visitor coordinates. */
export function cursorObservations(log, offset, useFrame = false) {
  const out = [];
  for (const [t0, tr, ox, oy, canvasTr, frame] of log) {
    const t = useFrame ? frame || t0 : t0;
    const m = /translate\(([-\d.e]+)px,\s*([-\d.e]+)px\)/.exec(tr || '');
    const s = /scale\(([-\d.e]+)\)/.exec(canvasTr || '');
    if (!m || !s) continue;
    const scale = Number(s[1]);
    const x = Math.round((Number(m[1]) - Number(ox || 0)) / scale);
    const y = Math.round((Number(m[2]) - Number(oy || 0)) / scale);
    out.push({ t: t + offset, x, y });
  }
  return out;
}

/** Installs the counter watchers (and the buffered Replayer) in the screencast window. */
async function watchCounter(host, bufferMs) {
  await host.evaluate(await bundle('replay'));
  await host.evaluate((bufferMs) => {
    const now = () => performance.timeOrigin + performance.now();
    const S = (window.__dom = { product: [], buffered: [], docs: new WeakSet(), stopped: false, replayer: null, errors: [] });
    const watchDoc = (doc, log) => {
      let last = null;
      const check = () => {
        const el = doc.getElementById('counter');
        const v = el && el.textContent;
        if (v && v !== last) {
          last = v;
          log.push([v, now()]);
        }
      };
      new MutationObserver(check).observe(doc, { subtree: true, childList: true, characterData: true });
      check();
    };
    const scan = () => {
      for (const f of document.querySelectorAll('iframe')) {
        let doc = null;
        try {
          doc = f.contentDocument;
        } catch {
          doc = null;
        }
        if (!doc || S.docs.has(doc)) continue;
        S.docs.add(doc);
        watchDoc(doc, f.closest('#bench-buffered') ? S.buffered : S.product);
      }
      if (!S.stopped) requestAnimationFrame(scan);
    };
    // rrweb's documented live buffer: the visitor's own timestamps, startLive(now - buffer).
    const root = document.createElement('div');
    root.id = 'bench-buffered';
    root.style.cssText = 'position:fixed;left:-20000px;top:0;width:1000px;height:700px;overflow:hidden;pointer-events:none';
    document.body.appendChild(root);
    const { Replayer, decodeEvents, newCodecState } = window.__rrReplay;
    const dec = new TextDecoder();
    let state = newCodecState();
    const feed = (buf) => {
      try {
        const u = new Uint8Array(buf);
        if (u[0] !== 1 && u[0] !== 2) return;
        if (u[0] === 1) state = newCodecState();
        // Stamped on arrival, played bufferMs later: rrweb's live mode with its buffer.
        const at = Date.now();
        const events = decodeEvents(JSON.parse(dec.decode(u.subarray(5))), state);
        for (const e of events) e.timestamp = at;
        if (u[0] === 1 && !S.replayer) {
          S.replayer = new Replayer([], {
            root, liveMode: true, mouseTail: false, triggerFocus: false, showWarning: false, pauseAnimation: false, UNSAFE_replayCanvas: false,
          });
          S.replayer.startLive(Date.now() - bufferMs);
        }
        if (!S.replayer) return;
        for (const e of events) S.replayer.addEvent(e);
      } catch (e) {
        S.errors.push(String(e));
      }
    };
    for (const [buf] of window.__bench.frames) feed(buf);
    window.__bench.frames = [];
    window.__bench.onFrame = (buf) => feed(buf);
    requestAnimationFrame(scan);
  }, bufferMs);
}

export async function run(cfg) {
  const env = await startEnv();
  const browser = await cfg.launch();
  try {
    const v = await openVisitor(browser, `${env.site.origin}/typical`);
    const c = await openConsultant(browser, env.server.url, { tap: true, keep: true });
    const host = await grant(c, v);
    await replicaShows(host, '#end-marker');
    await sleep(500);
    const nodes = await v.page.evaluate(() => {
      let n = 0;
      const w = document.createTreeWalker(document, NodeFilter.SHOW_ALL);
      while (w.nextNode()) n++;
      return n;
    });

    // Figure 4: the keyframe as sent.
    const key = screenFrames(v.sent).find((f) => f.kind === 1);

    const vOff = await clockOffset(v.page);
    const hOff = await clockOffset(host);

    // Figure 2: DOM change → replica DOM, product and 1 s buffer, side by side.
    await watchCounter(host, 1000);
    await sleep(300);
    // ~100 ms, but not a multiple of the 16.7 ms frame: the changes fall at
    // every phase of the window's frames, not always at the same one.
    await v.page.evaluate(() => window.__page.counter(97));
    await sleep(cfg.domSeconds * 1000);
    await v.page.evaluate(() => window.__page.stop());
    await sleep(1600); // the buffered replayer is a second behind
    const counterLog = await v.page.evaluate(() => window.__page.counterLog);
    const dom = await host.evaluate(() => {
      const S = window.__dom;
      S.stopped = true;
      window.__bench.onFrame = null;
      try {
        S.replayer?.destroy();
      } catch {}
      document.getElementById('bench-buffered')?.remove();
      return { product: S.product, buffered: S.buffered, errors: S.errors };
    });
    const src = counterLog.map(([n, t]) => ({ t: t + vOff }));
    const toObs = (log) => log.map(([val, t]) => ({ t: t + hOff, k: /^c(\d+)$/.test(val) ? Number(val.slice(1)) - 1 : undefined }));
    const domProduct = lags(src, toObs(dom.product));
    const domBuffered = lags(src, toObs(dom.buffered));

    // Figure 1: cursor.
    await host.evaluate(() => {
      const now = () => performance.timeOrigin + performance.now();
      const cur = document.querySelector('[data-testid="replica-cursor"]');
      const canvas = document.querySelector('.sc-canvas');
      const log = (window.__cursorLog = []);
      let last = '';
      new MutationObserver(() => {
        const t = now();
        const tr = cur.style.transform;
        if (tr !== last) {
          last = tr;
          const rec = [t, tr, canvas.dataset.ox, canvas.dataset.oy, canvas.style.transform, 0];
          log.push(rec);
          // The style is set outside an animation frame: it is painted at the next one.
          requestAnimationFrame(() => (rec[5] = now()));
        }
      }).observe(cur, { attributes: true, attributeFilter: ['style'] });
    });
    await v.page.mouse.move(5, 5);
    await sleep(200);
    await v.page.evaluate(() => {
      window.__page.moves = [];
      window.__page.trackMoves = true;
    });
    await driveMoves(v.page, cfg.moves);
    await sleep(800);
    const moves = await v.page.evaluate(() => {
      window.__page.trackMoves = false;
      return window.__page.moves;
    });
    const cursorLog = await host.evaluate(() => window.__cursorLog);
    const index = new Map(moves.map(([, x, y], i) => [`${x},${y}`, i]));
    const mv = moves.map(([t]) => ({ t: t + vOff }));
    const obs = cursorObservations(cursorLog, hOff).map((o) => ({ t: o.t, k: index.get(`${o.x},${o.y}`) }));
    const cursor = lags(mv, obs);
    const obsFrame = cursorObservations(cursorLog, hOff, true).map((o) => ({ t: o.t, k: index.get(`${o.x},${o.y}`) }));
    const cursorFrame = lags(mv, obsFrame);
    const moveIntervals = moves.slice(1).map((m, i) => m[0] - moves[i][0]);

    await c.ctx.close();
    await v.ctx.close();
    return {
      page_nodes: nodes,
      keyframe: key ? { body: key.body, size: key.size } : null,
      clock_skew_ms: hOff - vOff,
      dom: { product: domProduct, buffered: domBuffered, changes: counterLog.length, errors: dom.errors },
      cursor: { ...cursor, frame_lags: cursorFrame.lags, moves: moves.length, observations: obs.length, unmatched: obs.filter((o) => o.k === undefined).length, move_intervals: moveIntervals },
    };
  } finally {
    await browser.close();
    await env.close();
  }
}
