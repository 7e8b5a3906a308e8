// Figure 6: a ~100,000-node page.
//   initial   consent → the first keyframe sent → the replica shown; the
//             visitor's long tasks between the consent click and the keyframe
//   reopen    the screencast window closed and opened again (button pressed in
//             the console) → the full replica shown from the server's cached
//             keyframe; keyframes the visitor sent meanwhile (must be none) and
//             its long tasks
//   resnap    what asking the visitor for a new snapshot costs instead (what
//             OpenReplay does on every agent join): agent.js loaded straight
//             into the same page (no widget), start(), then keyframe() a few
//             times; the main thread blocked for each (long tasks, and the time
//             from the call to the frame handed to send())
//   rrweb     plain @rrweb/record with defaults on the same page: record()'s
//             first snapshot plus JSON.stringify of what it emits
import {
  clockOffset, openConsultant, openVisitor, perfMetrics, screencastWindow, sleep, startEnv, waitFor,
} from '../lib.mjs';

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

function longtasksIn(lt, a, b) {
  const xs = lt.filter(([t]) => t >= a && t <= b).map(([, d]) => d);
  return { count: xs.length, total_ms: Math.round(sum(xs)), longest_ms: Math.round(Math.max(0, ...xs)) };
}

export async function run(cfg) {
  const env = await startEnv();
  const browser = await cfg.launch();
  const out = { nodes_requested: cfg.heavyNodes };
  const long = 180_000;
  try {
    const url = `${env.site.origin}/heavy?nodes=${cfg.heavyNodes}`;
    const v = await openVisitor(browser, url, { sendLog: true, cdp: true });
    await v.cdp.send('Performance.enable', { timeDomain: 'timeTicks' });
    out.page_nodes = await v.page.evaluate(() => {
      let n = 0;
      const w = document.createTreeWalker(document, NodeFilter.SHOW_ALL);
      while (w.nextNode()) n++;
      return n;
    });
    const c = await openConsultant(browser, env.server.url, { tap: true, keep: true, shownSelector: '#end-marker' });
    // Consent, with the visitor's main-thread CPU time (ThreadTime) from the
    // click to the keyframe handed to the socket: unlike the long tasks'
    // wall time, the consultant's window on the other core cannot inflate it.
    await c.page.getByTestId('screencast-button').click();
    await v.page.getByTestId('consent-block').waitFor({ timeout: long });
    await v.page.evaluate(() => (window.__yesAt = performance.timeOrigin + performance.now()));
    const cpu0 = await perfMetrics(v.cdp);
    await v.page.getByTestId('consent-yes').click();
    await waitFor(() => v.page.evaluate(() => window.__sendLog.some(([, , k]) => k === 1)), 'the first keyframe', long, 20);
    const cpu1 = await perfMetrics(v.cdp);
    let host = await screencastWindow(c, long);
    await waitFor(() => host.evaluate(() => window.__bench.shownAt > 0), 'the initial replica', long, 50);
    const vOff = await clockOffset(v.page);
    const cOff = await clockOffset(c.page);
    let hOff = await clockOffset(host);
    {
      const { yesAt, sends, lt } = await v.page.evaluate(() => ({ yesAt: window.__yesAt, sends: window.__sendLog, lt: window.__page.longtasks }));
      const key = sends.find(([, , kind]) => kind === 1);
      const b = await host.evaluate(() => ({ first: window.__bench.firstFrameAt, bytes: window.__bench.firstFrameBytes, shown: window.__bench.shownAt }));
      out.initial = {
        keyframe_bytes: key ? key[1] : null,
        yes_to_keyframe_sent_ms: key ? Math.round(key[0] - yesAt) : null,
        yes_to_replica_ms: Math.round(b.shown + hOff - (yesAt + vOff)),
        keyframe_received_to_shown_ms: Math.round(b.shown - b.first),
        visitor_longtasks: key ? longtasksIn(lt, yesAt, key[0] + 50) : null,
        visitor_thread_cpu_ms: Math.round(cpu1.ThreadTime - cpu0.ThreadTime),
        visitor_task_ms: Math.round(cpu1.TaskDuration - cpu0.TaskDuration),
      };
    }

    out.reopen = [];
    for (let i = 0; i < cfg.reopens; i++) {
      await host.close();
      await sleep(1600); // the console notices a closed window once a second
      const before = await v.page.evaluate(() => ({ keyframes: window.__sendLog.filter(([, , k]) => k === 1).length, t: performance.timeOrigin + performance.now() }));
      const clicks = await c.page.evaluate(() => window.__clicks.length);
      await c.page.getByTestId('screencast-button').click();
      host = await screencastWindow(c, long);
      await waitFor(() => host.evaluate(() => window.__bench.paintedAt > 0), 'the reopened replica', long, 50);
      hOff = await clockOffset(host);
      const clickAt = await c.page.evaluate((n) => window.__clicks[n], clicks);
      // The window's own User Timing marks (replica.ts) and navigation timing.
      const b = await host.evaluate(() => {
        const at = (name) => {
          const m = performance.getEntriesByName(`chatcast:${name}`);
          return m.length ? performance.timeOrigin + m[m.length - 1].startTime : null;
        };
        const nav = performance.getEntriesByType('navigation')[0];
        return {
          origin: performance.timeOrigin,
          loaded: nav ? performance.timeOrigin + nav.domContentLoadedEventEnd : null,
          first: window.__bench.firstFrameAt,
          bytes: window.__bench.firstFrameBytes,
          watch: at('watch'),
          early: at('early-frame'),
          received: at('keyframe-received'),
          decoded: at('keyframe-decoded'),
          rebuilt: at('keyframe-rebuilt'),
          shown: window.__bench.shownAt,
          painted: window.__bench.paintedAt,
        };
      });
      await sleep(300);
      const after = await v.page.evaluate(([t]) => ({
        keyframes: window.__sendLog.filter(([, , k]) => k === 1).length,
        lt: window.__page.longtasks.filter(([s]) => s >= t),
      }), [before.t]);
      const click = clickAt + cOff - hOff; // on the window's clock
      const ms = (a, z) => (a && z ? Math.round(z - a) : null);
      out.reopen.push({
        click_to_replica_ms: ms(click, b.painted),
        // The consultant's own rebuild: the Replayer builds the DOM, the browser renders it.
        own_rebuild_ms: ms(b.decoded, b.painted),
        path_ms: ms(click, b.decoded),
        steps_ms: {
          click_to_window: ms(click, b.origin),
          window_loaded: ms(b.origin, b.loaded),
          loaded_to_watch_sent: ms(b.loaded, b.watch),
          watch_to_keyframe_received: ms(b.watch, b.received),
          watch_to_keyframe_arrived_early: ms(b.watch, b.early),
          keyframe_decode: ms(b.received, b.decoded),
          replayer_rebuild: ms(b.decoded, b.rebuilt),
          render: ms(b.rebuilt, b.painted),
        },
        click_to_keyframe_received_ms: ms(click, b.first),
        keyframe_received_to_shown_ms: ms(b.first, b.painted),
        keyframe_bytes: b.bytes,
        visitor_keyframes_sent: after.keyframes - before.keyframes,
        visitor_longtasks: after.lt.length,
        visitor_longtask_ms: Math.round(sum(after.lt.map(([, d]) => d))),
      });
    }
    // The same in a panel beside the dialog (popups blocked): no window to
    // open and load; the panel opens a console socket of its own.
    out.reopen_panel = [];
    {
      const cp = await openConsultant(browser, env.server.url, { tap: true, keep: false, shownSelector: '#end-marker', noPopups: true });
      for (let i = 0; i < cfg.reopens; i++) {
        await cp.page.evaluate(() => {
          Object.assign(window.__bench, { firstFrameAt: 0, shownAt: 0, paintedAt: 0, watching: false });
          performance.clearMarks();
        });
        const clicks = await cp.page.evaluate(() => window.__clicks.length);
        await cp.page.getByTestId('screencast-button').click();
        await waitFor(() => cp.page.evaluate(() => window.__bench.paintedAt > 0), 'the panel replica', long, 50);
        const r = await cp.page.evaluate((n) => {
          const at = (name) => {
            const m = performance.getEntriesByName(`chatcast:${name}`);
            return m.length ? performance.timeOrigin + m[m.length - 1].startTime : null;
          };
          return { click: window.__clicks[n], watch: at('watch'), received: at('keyframe-received'), decoded: at('keyframe-decoded'), rebuilt: at('keyframe-rebuilt'), painted: window.__bench.paintedAt };
        }, clicks);
        const ms = (a, z) => (a && z ? Math.round(z - a) : null);
        out.reopen_panel.push({
          click_to_replica_ms: ms(r.click, r.painted),
          own_rebuild_ms: ms(r.decoded, r.painted),
          path_ms: ms(r.click, r.decoded),
          steps_ms: {
            click_to_watch_sent: ms(r.click, r.watch),
            watch_to_keyframe_received: ms(r.watch, r.received),
            keyframe_decode: ms(r.received, r.decoded),
            replayer_rebuild: ms(r.decoded, r.rebuilt),
            render: ms(r.rebuilt, r.painted),
          },
        });
        await cp.page.getByTestId('screencast-close').click();
        await sleep(500);
      }
      await cp.ctx.close();
    }
    // Of the rebuild in the window: decoding and parsing the keyframe alone.
    out.viewer_parse_keyframe_ms = await host.evaluate(() => {
      const f = window.__bench.frames.find(([buf]) => new Uint8Array(buf)[0] === 1);
      if (!f) return null;
      const t = performance.now();
      JSON.parse(new TextDecoder().decode(new Uint8Array(f[0], 5)));
      return Math.round(performance.now() - t);
    });
    await c.ctx.close();
    await v.ctx.close();

    // Asking the visitor's page for a snapshot instead: the agent on its own.
    {
      const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
      const page = await ctx.newPage();
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Performance.enable', { timeDomain: 'timeTicks' });
      await page.goto(`${env.site.origin}/heavy?nodes=${cfg.heavyNodes}&widget=0`, { timeout: long });
      await sleep(500);
      await page.evaluate(async (agentUrl) => {
        const s = document.createElement('script');
        s.src = agentUrl;
        await new Promise((res, rej) => {
          s.onload = res;
          s.onerror = rej;
          document.head.appendChild(s);
        });
        const api = s.__chatcastAgent;
        const A = (window.__agent = { sends: [], calls: [] });
        // From a task of the page's own (a long task is not reported for work
        // run by the debugger's evaluate).
        await new Promise((r) => setTimeout(r, 0));
        const t = performance.now();
        A.session = api.start({
          privacy: { mask_all_inputs: false, block_selectors: [], mask_selectors: [], keep_url_params: [] },
          send: (f) => {
            A.sends.push([performance.timeOrigin + performance.now(), f.byteLength, f[0]]);
            return true;
          },
          widgetHost: null,
          secrets: { startRecording() {}, stopRecording() {}, knownRoots: [document] },
          onFatal: (d) => (A.fatal = d),
        });
        A.calls.push([performance.timeOrigin + t, performance.now() - t]);
      }, `${env.server.url}/agent.js`);
      const snaps = [];
      for (let k = 0; k <= cfg.resnaps; k++) {
        const m0 = k > 0 ? await perfMetrics(cdp) : null;
        if (k > 0) {
          await sleep(1700); // keyframe() ignores requests within 1.5 s of the last one
          await page.evaluate(() => new Promise((resolve) => setTimeout(() => {
            const A = window.__agent;
            const t = performance.now();
            A.session.keyframe();
            A.calls.push([performance.timeOrigin + t, performance.now() - t]);
            resolve();
          }, 0)));
        }
        await waitFor(() => page.evaluate((n) => window.__agent.sends.filter(([, , kind]) => kind === 1).length > n, k), 'the keyframe', long, 20);
        const m1 = k > 0 ? await perfMetrics(cdp) : null;
        await sleep(200);
        const r = await page.evaluate((k) => {
          const A = window.__agent;
          const [at, syncMs] = A.calls[k];
          const send = A.sends.filter(([, , kind]) => kind === 1)[k];
          const lt = window.__page.longtasks.filter(([s]) => s >= at - 1 && s <= send[0] + 50).map(([, d]) => d);
          return { sync_ms: syncMs, call_to_send_ms: send[0] - at, bytes: send[1], longtasks: lt };
        }, k);
        snaps.push({
          kind: k === 0 ? 'start' : 'keyframe',
          snapshot_task_ms: Math.round(r.sync_ms),
          call_to_frame_sent_ms: Math.round(r.call_to_send_ms),
          keyframe_bytes: r.bytes,
          longtasks: r.longtasks.length,
          longtask_ms: Math.round(sum(r.longtasks)),
          longest_task_ms: Math.round(Math.max(0, ...r.longtasks)),
          thread_cpu_ms: m0 ? Math.round(m1.ThreadTime - m0.ThreadTime) : null,
        });
      }
      out.resnap = snaps;
      await ctx.close();
    }

    // Plain rrweb, defaults, on the same page.
    {
      const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
      const page = await ctx.newPage();
      await page.goto(`${env.site.origin}/rr-record?page=heavy&nodes=${cfg.heavyNodes}`, { timeout: long });
      await sleep(500);
      const r = await page.evaluate(() => new Promise((resolve) => setTimeout(() => {
        const t = performance.now();
        window.__rr.start({}, null);
        const ms = performance.now() - t;
        resolve({ at: performance.timeOrigin + t, record_and_stringify_ms: Math.round(ms), json_chars: window.__rr.bytes });
      }, 0)));
      await sleep(300);
      const lt = await page.evaluate((at) => window.__page.longtasks.filter(([s]) => s >= at - 1).map(([, d]) => d), r.at);
      out.rrweb_defaults = { record_and_stringify_ms: r.record_and_stringify_ms, json_chars: r.json_chars, longtasks: lt.length, longest_task_ms: Math.round(Math.max(0, ...lt)) };
      await ctx.close();
    }
    return out;
  } finally {
    await browser.close();
    await env.close();
  }
}
