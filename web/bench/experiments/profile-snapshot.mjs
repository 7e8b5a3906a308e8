#!/usr/bin/env node
// Where a full snapshot of a heavy page goes on the visitor's main thread: a
// CDP CPU profile of agent.js's start() (rrweb's snapshot, then the frame's
// encoding) on the ~100,000-node page, self time by function.
//   node bench/experiments/profile-snapshot.mjs [nodes] [top]
import { launch, sleep, startEnv } from '../lib.mjs';

const nodes = Number(process.argv[2] || 100_000);
const top = Number(process.argv[3] || 30);
const env = await startEnv();
const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await page.goto(`${env.site.origin}/heavy?nodes=${nodes}&widget=0`, { timeout: 120_000 });
  await page.evaluate(async (agentUrl) => {
    const s = document.createElement('script');
    s.src = agentUrl;
    await new Promise((res, rej) => { s.onload = res; s.onerror = rej; document.head.appendChild(s); });
    window.__api = s.__chatcastAgent;
  }, `${env.server.url}/agent.js`);
  await sleep(500);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const took = await page.evaluate(() => new Promise((resolve) => setTimeout(() => {
    const t = performance.now();
    let sent = 0;
    window.__api.start({
      privacy: { mask_all_inputs: false, block_selectors: [], mask_selectors: [], keep_url_params: [] },
      send: () => { if (!sent) sent = performance.now(); return true; },
      widgetHost: null,
      secrets: { startRecording() {}, stopRecording() {}, knownRoots: [document] },
      onFatal: () => {},
    });
    const sync = performance.now() - t;
    const wait = () => (sent ? resolve({ start_sync_ms: sync, to_frame_ms: sent - t }) : setTimeout(wait, 5));
    wait();
  }, 0)));
  const { profile } = await cdp.send('Profiler.stop');
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const f = byId.get(profile.samples[i]).callFrame;
    const key = `${f.functionName || '(anon)'} ${f.url.replace(/^.*\//, '').replace(/\?.*$/, '')}:${f.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const rows = [...self].filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(program)')).sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(JSON.stringify({ nodes, ...took, top_self_ms: rows.map(([k, v]) => [k, Math.round(v)]) }, null, 1));
} finally {
  await browser.close();
  await env.close();
}
