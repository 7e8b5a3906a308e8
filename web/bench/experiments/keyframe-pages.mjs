#!/usr/bin/env node
// Keyframe sizes of real pages: serves a folder of HTML pages (with their CSS
// and images) on loopback, runs agent.js's first snapshot on each and prints
// the keyframe as sent (compact JSON), deflated on its own, beside the same
// snapshot as rrweb JSON, and the page's strings and structure on their own.
//   node bench/experiments/keyframe-pages.mjs [ROOT] [PATH …]
// Default: the Rust book from the toolchain's documentation, if installed.
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { extname, join } from 'node:path';
import zlib from 'node:zlib';
import { codec, deflateOne, launch, startEnv } from '../lib.mjs';

const sysroot = (() => {
  try {
    return execFileSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
})();
const [root = join(sysroot, 'share/doc/rust/html'), ...paths] = process.argv.slice(2);
const pages = paths.length ? paths : ['/book/ch20-01-unsafe-rust.html', '/book/ch11-01-writing-tests.html', '/book/ch18-03-oo-design-patterns.html', '/book/ch02-00-guessing-game-tutorial.html'];
if (!existsSync(root)) {
  console.error(`no pages under ${root}: pass a folder of HTML pages`);
  process.exit(2);
}
const TYPES = { '.html': 'text/html', '.css': 'text/css', '.js': 'text/javascript', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2' };
const site = createServer((req, res) => {
  const p = join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname));
  if (!p.startsWith(root) || !existsSync(p) || statSync(p).isDirectory()) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(p)] || 'application/octet-stream' }).end(readFileSync(p));
});
await new Promise((r) => site.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${site.address().port}`;
const env = await startEnv();
const browser = await launch();
const kb = (n) => Math.round(n / 100) / 10;
const out = [];
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  for (const path of pages) {
    await page.goto(origin + path);
    await page.waitForTimeout(300);
    const r = await page.evaluate(async (agentUrl) => {
      const s = document.createElement('script');
      s.src = agentUrl;
      await new Promise((res, rej) => { s.onload = res; s.onerror = rej; document.head.appendChild(s); });
      const frames = [];
      const session = s.__chatcastAgent.start({
        privacy: { mask_all_inputs: false, block_selectors: [], mask_selectors: [], keep_url_params: [] },
        send: (f) => { frames.push(f); return true; },
        widgetHost: null,
        secrets: { startRecording() {}, stopRecording() {}, knownRoots: [document] },
        onFatal: () => {},
      });
      while (!frames.some((f) => f[0] === 1)) await new Promise((res) => setTimeout(res, 20));
      session.stop();
      let nodes = 0;
      const w = document.createTreeWalker(document, NodeFilter.SHOW_ALL);
      while (w.nextNode()) nodes++;
      return { nodes, body: new TextDecoder().decode(frames.find((f) => f[0] === 1).subarray(5)) };
    }, `${env.server.url}/agent.js`);
    const items = JSON.parse(r.body);
    const rrweb = JSON.stringify(codec.decodeEvents(JSON.parse(r.body), codec.newCodecState()).map((e) => ({ ...e, timestamp: 1796000000000 })));
    const strings = [];
    const structure = JSON.stringify(items, (k, v) => (typeof v === 'string' ? (strings.push(v), '') : v));
    const joined = Buffer.from(strings.join('\u0000'));
    out.push({
      page: path,
      dom_nodes: r.nodes,
      keyframe_raw_kb: kb(Buffer.byteLength(r.body)),
      keyframe_deflated_kb: kb(deflateOne(r.body)),
      rrweb_json_deflated_kb: kb(deflateOne(rrweb)),
      strings_alone_deflated_kb: kb(deflateOne(joined)),
      strings_alone_brotli11_kb: kb(zlib.brotliCompressSync(joined, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length),
      structure_alone_deflated_kb: kb(deflateOne(structure)),
    });
  }
  console.log(JSON.stringify({ root, pages: out }, null, 1));
} finally {
  await browser.close();
  await env.close();
  site.close();
}
