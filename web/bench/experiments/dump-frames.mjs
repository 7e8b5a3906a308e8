#!/usr/bin/env node
// Dumps what agent.js sends for the typical page: the first keyframe and the
// deltas of `seconds` of scripted activity, as length-prefixed frames in one
// file, for offline encoding experiments.
//   node bench/experiments/dump-frames.mjs OUT_FILE [seconds] [nodes]
import { writeFileSync } from 'node:fs';
import { launch, startEnv, sleep } from '../lib.mjs';
import { driveActivity } from '../activity.mjs';

const [out = '/tmp/frames.bin', seconds = '20', nodes = '4000'] = process.argv.slice(2);
const env = await startEnv({ typicalNodes: Number(nodes) });
const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(`${env.site.origin}/typical?widget=0`);
  await page.evaluate(async (agentUrl) => {
    const s = document.createElement('script');
    s.src = agentUrl;
    await new Promise((res, rej) => { s.onload = res; s.onerror = rej; document.head.appendChild(s); });
    const api = s.__chatcastAgent;
    window.__frames = [];
    window.__session = api.start({
      privacy: { mask_all_inputs: false, block_selectors: [], mask_selectors: [], keep_url_params: [] },
      send: (f) => { window.__frames.push(Array.from(f)); return true; },
      widgetHost: null,
      secrets: { startRecording() {}, stopRecording() {}, knownRoots: [document] },
      onFatal: () => {},
    });
  }, `${env.server.url}/agent.js`);
  await sleep(500);
  await page.evaluate(() => window.__page.busy());
  await driveActivity(page, Number(seconds) * 1000);
  const frames = await page.evaluate(() => window.__frames);
  const parts = [];
  for (const f of frames) {
    const b = Buffer.from(f);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  }
  writeFileSync(out, Buffer.concat(parts));
  console.error(`${frames.length} frames → ${out}`);
} finally {
  await browser.close();
  await env.close();
}
