// Shared pieces of the browser benchmarks: the server (release build if there
// is one), a site server for the generated pages, Chromium, the consultant's
// and the visitor's steps, clock alignment between pages, statistics, and the
// permessage-deflate arithmetic.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { htmlDoc, typicalBody, heavyBody } from './pages.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');
const RELEASE = join(ROOT, 'target', 'release', 'chatcast');
const DEBUG = join(ROOT, 'target', 'debug', 'chatcast');
// The harness reads CHATCAST_BIN when it is imported.
process.env.CHATCAST_BIN ||= existsSync(RELEASE) ? RELEASE : DEBUG;
export const BIN = process.env.CHATCAST_BIN;
const H = await import('../tests/harness.mjs');
export const { ADMIN, addSite, removeDir } = H;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Chromium as the brief says (Debian's, headless, no background work). */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
}

// ---- bundles for the comparison pages ------------------------------------------

const bundles = new Map();
/** An IIFE of one of rr/*.js (rrweb straight from web/node_modules). */
export async function bundle(name) {
  if (!bundles.has(name)) {
    const out = await esbuild.build({
      entryPoints: [join(here, 'rr', `${name}-entry.js`)],
      absWorkingDir: join(here, '..'),
      bundle: true,
      format: 'iife',
      minify: true,
      write: false,
      target: ['chrome100'],
      logLevel: 'silent',
    });
    bundles.set(name, out.outputFiles[0].text);
  }
  return bundles.get(name);
}

// ---- the server and the site ----------------------------------------------------

/**
 * A fresh chatcast server (own data dir) and a site on another origin that
 * serves the generated pages:
 *   /typical[?widget=0]           ~4,000-node shop page
 *   /heavy?nodes=N[&widget=0]     the same, scaled to N nodes
 *   /rr-record[?page=heavy&nodes=N] no widget, the comparison recorder bundle
 *   /rr-play                      an empty page with the comparison player bundle
 */
export async function startEnv({ typicalNodes = 4000 } = {}) {
  const server = await H.startServer();
  const cache = new Map();
  const body = (kind, n) => {
    const k = `${kind}:${n}`;
    if (!cache.has(k)) cache.set(k, kind === 'heavy' ? heavyBody(n) : typicalBody(n));
    return cache.get(k);
  };
  const site = { key: '', origin: '' };
  const srv = createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    const widget = u.searchParams.get('widget') !== '0' ? { serverUrl: server.url, key: site.key } : null;
    let html;
    try {
      switch (u.pathname) {
        case '/typical':
          html = htmlDoc({ body: body('typical', Number(u.searchParams.get('nodes')) || typicalNodes), widget });
          break;
        case '/heavy':
          html = htmlDoc({ title: 'Catalogue', body: body('heavy', Number(u.searchParams.get('nodes')) || 100_000), widget });
          break;
        case '/rr-record': {
          const n = Number(u.searchParams.get('nodes')) || typicalNodes;
          html = htmlDoc({ body: body(u.searchParams.get('page') === 'heavy' ? 'heavy' : 'typical', n), extraHead: `<script>${await bundle('record')}</script>` });
          break;
        }
        case '/rr-play':
          html = `<!doctype html><html><head><meta charset="utf-8"><title>player</title><script>${await bundle('replay')}</script>
<style>body{margin:0}</style></head><body><div id="root"></div></body></html>`;
          break;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
          return;
      }
    } catch (e) {
      res.writeHead(500).end(String(e));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  site.origin = `http://127.0.0.1:${srv.address().port}`;
  site.key = addSite(server.dataDir, 'Bench shop', site.origin);
  return {
    server,
    site,
    async close() {
      await new Promise((r) => {
        srv.closeAllConnections();
        srv.close(r);
      });
      await server.stop();
      removeDir(server.dataDir);
    },
  };
}

// ---- page instrumentation -------------------------------------------------------

/**
 * Init script for the visitor's context: a log of the binary frames the page
 * hands off (time, bytes, kind, how long the call took) when `sendLog` is set:
 * WebSocket.send on the main thread, and the frames transferred to the screen
 * socket's worker (Worker.postMessage of an ArrayBuffer).
 */
export function visitorInit(opts) {
  if (!opts || !opts.sendLog) return;
  const log = (window.__sendLog = []);
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (d, ...rest) {
    if (!(d instanceof ArrayBuffer)) return post.call(this, d, ...rest);
    const bytes = d.byteLength;
    const first = bytes ? new Uint8Array(d, 0, 1)[0] : -1;
    const t = performance.now();
    const r = post.call(this, d, ...rest);
    const end = performance.now();
    log.push([performance.timeOrigin + end, bytes, first, end - t]);
    return r;
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    if (typeof d !== 'string') {
      const first = d instanceof ArrayBuffer ? new Uint8Array(d, 0, 1)[0] : d && d.byteLength ? d[0] : -1;
      const t = performance.now();
      const r = send.call(this, d);
      const end = performance.now();
      log.push([performance.timeOrigin + end, d.byteLength ?? d.size, first, end - t]);
      return r;
    }
    return send.call(this, d);
  };
}

/**
 * Init script for the consultant's context (acts in the screencast window
 * only): taps the binary frames its socket receives (`tap`), keeps them for a
 * late consumer (`keep`), and notes when the replica first shows `shownSelector`.
 */
export function consultantInit(opts) {
  // A popup starts as about:blank; the screencast page then reuses that
  // window's global (same origin), and Chromium runs init scripts only for
  // the first document. So this runs once at about:blank: everything is set
  // up on the window, and per-document work starts from the socket's events.
  if (window.__bench) return;
  // Popups blocked: the console shows the screencast in a panel beside the dialog.
  if (opts.noPopups) window.open = () => null;
  const now = () => performance.timeOrigin + performance.now();
  const B = (window.__bench = { frames: [], firstFrameAt: 0, firstFrameBytes: 0, shownAt: 0, paintedAt: 0, onFrame: null, opts, watching: false });
  const watchShown = () => {
    if (!opts.shownSelector || B.watching) return;
    B.watching = true;
    const check = () => {
      const f = document.querySelector('[data-testid="replica-frame"]');
      let d = null;
      try {
        d = f && f.contentDocument;
      } catch {
        d = null;
      }
      if (d && d.querySelector(opts.shownSelector)) {
        B.shownAt = now();
        // The next frame starts once the one holding the new DOM was rendered.
        requestAnimationFrame(() => (B.paintedAt = now()));
        return;
      }
      requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  };
  if (opts.tap) {
    const WS = window.WebSocket;
    window.WebSocket = class extends WS {
      constructor(...a) {
        super(...a);
        this.addEventListener('message', (e) => {
          if (typeof e.data === 'string') return;
          const t = now();
          if (!B.firstFrameAt) {
            B.firstFrameAt = t;
            B.firstFrameBytes = e.data.byteLength;
            watchShown();
          }
          if (B.onFrame) B.onFrame(e.data, t);
          else if (opts.keep) B.frames.push([e.data, t]);
        });
      }
    };
  }
}

// ---- visitor and consultant -----------------------------------------------------

/**
 * A visitor tab on `url` whose WebSocket frames are recorded: `sent` holds
 * every payload the page sent, `sockets` the same per socket ({url, sent}).
 */
export async function openVisitor(browser, url, { viewport = { width: 1000, height: 700 }, sendLog = true, cdp = false, waitWidget = true, contextOptions = {} } = {}) {
  const ctx = await browser.newContext({ viewport, ...contextOptions });
  await ctx.addInitScript(visitorInit, { sendLog });
  const page = await ctx.newPage();
  const sent = [];
  const sockets = [];
  const handshakes = [];
  let session = null;
  if (cdp) {
    session = await ctx.newCDPSession(page);
    await session.send('Network.enable');
    session.on('Network.webSocketHandshakeResponseReceived', (e) => handshakes.push(e.response.headers));
  }
  page.on('websocket', (ws) => {
    const sock = { url: ws.url(), sent: [] };
    sockets.push(sock);
    ws.on('framesent', (f) => {
      sent.push(f.payload);
      sock.sent.push(f.payload);
    });
  });
  await page.goto(url, { timeout: 120_000 });
  if (waitWidget) await page.getByTestId('widget-launcher').waitFor({ timeout: 60_000 });
  return { ctx, page, sent, sockets, handshakes, cdp: session };
}

/** The console, logged in, with the only online visitor's dialog open; `init` goes into every page of its context. */
export async function openConsultant(browser, serverUrl, init = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.addInitScript(consultantInit, init);
  const page = await ctx.newPage();
  await page.goto(`${serverUrl}/console/`);
  await page.getByTestId('login-email').fill(ADMIN.email);
  await page.getByTestId('login-password').fill(ADMIN.password);
  await page.getByTestId('login-submit').click();
  const item = page.getByTestId('visitor-item');
  await item.first().waitFor({ timeout: 30_000 });
  await item.first().click();
  await page.getByTestId('dialog').waitFor();
  // When the screencast button is pressed (timeOrigin-based), for the reopen timing.
  await page.evaluate(() => {
    window.__clicks = [];
    document.addEventListener('click', (e) => {
      const b = e.target instanceof Element && e.target.closest('[data-testid="screencast-button"]');
      if (b) window.__clicks.push(performance.timeOrigin + performance.now());
    }, true);
  });
  return { ctx, page };
}

export async function waitFor(cond, what, timeout = 30_000, every = 25) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(every);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/** The screencast window once it shows the replica frame. */
export async function screencastWindow(consultant, timeout = 60_000) {
  let host = null;
  await waitFor(async () => {
    host = consultant.ctx.pages().find((p) => !p.isClosed() && p.url().includes('screencast')) ?? null;
    return host !== null;
  }, 'the screencast window', timeout);
  await host.getByTestId('screencast-view').waitFor({ timeout });
  await host.getByTestId('replica-frame').waitFor({ timeout });
  return host;
}

/** Press, Yes in the widget (its time noted in the visitor page), wait for the replica window. */
export async function grant(consultant, visitor, { timeout = 60_000 } = {}) {
  await consultant.page.getByTestId('screencast-button').click();
  await visitor.page.getByTestId('consent-block').waitFor({ timeout });
  await visitor.page.evaluate(() => (window.__yesAt = performance.timeOrigin + performance.now()));
  await visitor.page.getByTestId('consent-yes').click();
  return screencastWindow(consultant, timeout);
}

/** Waits until the replica shows an element with this text. */
export async function replicaShows(host, selector, timeout = 30_000) {
  await waitFor(() => host.evaluate((sel) => {
    const f = document.querySelector('[data-testid="replica-frame"]');
    return !!(f && f.contentDocument && f.contentDocument.querySelector(sel));
  }, selector), `replica ${selector}`, timeout, 50);
}

/** CDP Performance metrics of a page, in ms (ScriptDuration, TaskDuration, ThreadTime, …). */
export async function perfMetrics(cdp) {
  const { metrics: m } = await cdp.send('Performance.getMetrics');
  const out = {};
  for (const { name, value } of m) if (/Duration$|^ThreadTime$|^ProcessTime$/.test(name)) out[name] = value * 1000;
  return out;
}

// ---- clocks ------------------------------------------------------------------

/**
 * How far this page's `performance.timeOrigin + performance.now()` is from the
 * system clock (Date.now), in ms: the median over edges of Date.now's
 * millisecond tick, so well under a millisecond. Pages in different renderer
 * processes can differ by a little; adding each page's offset puts all
 * timestamps on one clock.
 */
export async function clockOffset(page) {
  return page.evaluate(() => {
    const out = [];
    let last = Date.now();
    const end = performance.now() + 80;
    while (performance.now() < end) {
      const d = Date.now();
      if (d !== last) {
        out.push(d - (performance.timeOrigin + performance.now()));
        last = d;
      }
    }
    out.sort((a, b) => a - b);
    return out[Math.floor(out.length / 2)] ?? 0;
  });
}

// ---- statistics -------------------------------------------------------------------

/** Percentile (linear interpolation) of an unsorted array. */
export function pct(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * (p / 100);
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
}

export function summary(xs) {
  return {
    n: xs.length,
    p50: r1(pct(xs, 50)),
    p90: r1(pct(xs, 90)),
    p99: r1(pct(xs, 99)),
    max: r1(xs.length ? Math.max(...xs) : null),
    mean: r1(xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null),
  };
}

export const r1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10) / 10);
export const r2 = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 100) / 100);

/**
 * One figure of the report. `target` is {op: '<=' | '>=', value}; `ratio` is
 * value / comparison (how many times the comparison this is).
 */
export function figure({ value, unit, target, comparison, extra = {} }) {
  const holds = target && value !== null ? (target.op === '<=' ? value <= target.value : value >= target.value) : null;
  const ratio = comparison && comparison.value ? r2(value / comparison.value) : null;
  return { value, unit, target: target ? `${target.op} ${target.value} ${unit}` : null, holds, comparison, ratio, ...extra };
}

// ---- WebSocket compression (RFC 7692) ---------------------------------------------

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function toBuf(p) {
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p);
}

/** Bytes of one WebSocket frame header (client frames carry a 4-byte mask key). */
export function wsHeader(len, fromClient) {
  return 2 + (len >= 65536 ? 8 : len >= 126 ? 2 : 0) + (fromClient ? 4 : 0);
}

/**
 * What permessage-deflate with context takeover puts on the wire for these
 * messages, in order: one raw-deflate stream, Z_SYNC_FLUSH after each
 * message, the 00 00 ff ff tail removed (RFC 7692 §7.2.1). Returns the
 * compressed payload sizes.
 */
export async function deflateStream(messages, level = zlib.constants.Z_DEFAULT_COMPRESSION) {
  const d = zlib.createDeflateRaw({ level, windowBits: 15, memLevel: 8 });
  let chunks = [];
  d.on('data', (c) => chunks.push(c));
  const sizes = [];
  for (const m of messages) {
    const buf = toBuf(m);
    await new Promise((resolve, reject) => {
      d.write(buf, (err) => (err ? reject(err) : undefined));
      d.flush(zlib.constants.Z_SYNC_FLUSH, resolve);
    });
    await new Promise((r) => setImmediate(r));
    const out = Buffer.concat(chunks);
    chunks = [];
    if (out.length < 4 || !out.subarray(out.length - 4).equals(TAIL)) throw new Error('deflate output does not end with a sync-flush tail');
    sizes.push(out.length - 4);
  }
  d.close();
  return sizes;
}

/** The same, but each message compressed on its own (no context takeover / per-message packing). */
export function deflateEach(messages, level = zlib.constants.Z_DEFAULT_COMPRESSION) {
  return messages.map((m) => zlib.deflateRawSync(toBuf(m), { level, finishFlush: zlib.constants.Z_SYNC_FLUSH }).length - 4);
}

/** One message in a fresh context (a keyframe on its own). */
export function deflateOne(m, level = zlib.constants.Z_DEFAULT_COMPRESSION) {
  return deflateEach([m], level)[0];
}

/** Wire bytes of a message list: raw, streaming deflate, per-message deflate (payload + frame headers). */
export async function wireBytes(messages, { fromClient, level = zlib.constants.Z_DEFAULT_COMPRESSION }) {
  const raw = messages.map((m) => toBuf(m).length);
  const stream = await deflateStream(messages, level);
  const each = deflateEach(messages, level);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const withHeaders = (xs) => sum(xs.map((n) => n + wsHeader(n, fromClient)));
  return {
    messages: messages.length,
    raw_payload: sum(raw),
    raw_wire: withHeaders(raw),
    stream_payload: sum(stream),
    stream_wire: withHeaders(stream),
    each_payload: sum(each),
    each_wire: withHeaders(each),
  };
}

// ---- TCP byte counters (kernel tcp_info) -----------------------------------------

/** bytes_sent / bytes_received of every established socket on the server's port, by peer port. */
export function tcpCounters(port) {
  let out = '';
  try {
    out = execFileSync('ss', ['-tinH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  } catch {
    return null;
  }
  const socks = new Map();
  let cur = null;
  for (const line of out.split('\n')) {
    const m = line.match(/^\s*\d+\s+\d+\s+\S+:(\d+)\s+\S+:(\d+)/);
    if (m) {
      cur = { peer: Number(m[2]), sent: 0, received: 0 };
      socks.set(cur.peer, cur);
      continue;
    }
    if (cur) {
      const s = line.match(/bytes_sent:(\d+)/);
      const r = line.match(/bytes_received:(\d+)/);
      if (s) cur.sent = Number(s[1]);
      if (r) cur.received = Number(r[1]);
    }
  }
  return socks;
}

/** Per-socket deltas between two tcpCounters snapshots. */
export function tcpDelta(before, after) {
  if (!before || !after) return [];
  const out = [];
  for (const [peer, a] of after) {
    const b = before.get(peer) ?? { sent: 0, received: 0 };
    out.push({ peer, sent: a.sent - b.sent, received: a.received - b.received });
  }
  return out;
}

// ---- rrweb snapshots ---------------------------------------------------------------

/** Binary frames among recorded payloads: {kind, seq, body (Buffer)}. */
export function screenFrames(payloads) {
  return payloads
    .filter((p) => typeof p !== 'string' && p.length >= 5)
    .map((b) => ({ kind: b[0], seq: b.readUInt32BE(1), body: b.subarray(5), size: b.length }));
}

/** Serialized nodes in a FullSnapshot tree. */
export function countSerialized(node) {
  let n = 0;
  const stack = [node];
  while (stack.length) {
    const x = stack.pop();
    n++;
    if (x.childNodes) for (const c of x.childNodes) stack.push(c);
  }
  return n;
}

// The product's frame codec (src/shared/screencodec.ts), for node.
const codecJs = await esbuild.build({
  entryPoints: [join(here, '..', 'src', 'shared', 'screencodec.ts')],
  bundle: true, format: 'esm', platform: 'neutral', write: false, logLevel: 'silent',
});
export const codec = await import('data:text/javascript;base64,' + Buffer.from(codecJs.outputFiles[0].text).toString('base64'));

/**
 * The rrweb events of screen frames (keyframes and deltas, in order), decoded
 * as the console does; each event keeps its frame's kind.
 */
export function decodeFrames(frames) {
  let state = codec.newCodecState();
  const out = [];
  for (const f of frames) {
    if (f.kind !== 1 && f.kind !== 2) continue;
    if (f.kind === 1) state = codec.newCodecState();
    for (const e of codec.decodeEvents(JSON.parse(f.body.toString('utf8')), state)) out.push({ kind: f.kind, event: e });
  }
  return out;
}
