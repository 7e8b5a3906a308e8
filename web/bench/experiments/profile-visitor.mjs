#!/usr/bin/env node
// Where the visitor page's main thread goes while a consultant watches: a CDP
// CPU profile of the busy page's scripted activity, self time summed by
// function and script.
//   node bench/experiments/profile-visitor.mjs [seconds] [top]
import { driveActivity } from '../activity.mjs';
import { grant, launch, openConsultant, openVisitor, replicaShows, sleep, startEnv } from '../lib.mjs';

const seconds = Number(process.argv[2] || 15);
const top = Number(process.argv[3] || 40);
const env = await startEnv();
const browser = await launch();
try {
  const v = await openVisitor(browser, `${env.site.origin}/typical`, { cdp: true, sendLog: false });
  const c = await openConsultant(browser, env.server.url, {});
  const host = await grant(c, v);
  await replicaShows(host, '#end-marker');
  await sleep(2000);
  await v.cdp.send('Profiler.enable');
  await v.cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  await v.cdp.send('Profiler.start');
  await v.page.evaluate(() => window.__page.busy());
  await driveActivity(v.page, seconds * 1000);
  const { profile } = await v.cdp.send('Profiler.stop');
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]);
    const f = n.callFrame;
    const url = f.url.replace(/^.*\//, '').replace(/\?.*$/, '');
    const key = `${f.functionName || '(anon)'} ${url}:${f.lineNumber}:${f.columnNumber}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0) / 1000);
  }
  const byScript = new Map();
  for (const [k, ms] of self) {
    const script = k.split(' ')[1].split(':')[0] || '(native)';
    byScript.set(script, (byScript.get(script) ?? 0) + ms);
  }
  const rows = [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(JSON.stringify({
    seconds,
    by_script_ms: Object.fromEntries([...byScript].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v)])),
    top_self_ms: rows.map(([k, v]) => [k, Math.round(v * 10) / 10]),
  }, null, 1));
  await c.ctx.close();
  await v.ctx.close();
} finally {
  await browser.close();
  await env.close();
}
