// A screen stream the console cannot decode (a hostile page, or a broken
// agent): the replica asks again after 1, 2 and 4 s, then gives up, says why
// and stops watching — it does not pull the cached keyframe in a loop. The
// frames are corrupted on their way into the console's browser
// (playwright's WebSocket routing), so the server and the page are the real ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startSite, addSite, launchBrowser, removeDir, openWidget, waitFor, ADMIN } from './harness.mjs';

let server, site, browser;

before(async () => {
  server = await startServer();
  site = await startSite(server.url, { '/': '<h1 id="headline">Shop front</h1><p>Hello</p>' });
  site.key = addSite(server.dataDir, 'Backoff shop', site.origin);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
  removeDir(server.dataDir);
});

test('a keyframe the console cannot decode is asked for three more times, backing off, then the replica gives up', { timeout: 90_000 }, async () => {
  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto(`${site.origin}/`);
  await openWidget(visitor);

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const watches = [];
  let keyframes = 0;
  // Every console socket of this browser (the console and its screencast window).
  await ctx.routeWebSocket(/\/ws\/console/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      if (typeof m === 'string' && m.includes('"t":"watch"')) watches.push(Date.now());
      server.send(m);
    });
    server.onMessage((m) => {
      if (typeof m !== 'string' && m[0] === 1) {
        keyframes++;
        m = Buffer.concat([m.subarray(0, 5), Buffer.from('[[2,{"id":"not a number","c":[]}]]')]);
      }
      ws.send(m);
    });
  });
  const consultant = await ctx.newPage();
  await consultant.goto(`${server.url}/console/`);
  await consultant.getByTestId('login-email').fill(ADMIN.email);
  await consultant.getByTestId('login-password').fill(ADMIN.password);
  await consultant.getByTestId('login-submit').click();
  await consultant.getByTestId('visitor-item').first().click();
  await consultant.getByTestId('screencast-button').click();
  await visitor.getByTestId('consent-block').waitFor();
  await visitor.getByTestId('consent-yes').click();
  // The screencast view (a popup, or a panel in the console); no replica frame will ever be built in it.
  let host = null;
  await waitFor(async () => {
    host = ctx.pages().find((p) => !p.isClosed() && p.url().includes('screencast')) ?? null;
    if (!host && (await consultant.getByTestId('screencast-view').isVisible())) host = consultant;
    return host !== null;
  }, 'the screencast view to open', 30_000);

  const status = host.getByTestId('replica-status');
  await status.filter({ hasText: 'cannot be shown' }).waitFor({ timeout: 30_000 });
  assert.ok(keyframes >= 1, 'keyframes did arrive (positive control)');
  // The window's first watch (its early socket may ask once more as the
  // console takes it over), then three more after about 1, 2 and 4 s.
  const gaps = watches.slice(1).map((t, i) => t - watches[i]);
  assert.ok(watches.length >= 4 && watches.length <= 5, `watches: ${watches.length}, gaps ${gaps}`);
  const last3 = gaps.slice(-3);
  for (const [i, least] of [900, 1900, 3900].entries()) assert.ok(last3[i] >= least && last3[i] < least + 1500, `retry ${i + 1} after ${last3[i]} ms (gaps ${gaps})`);
  // And nothing more afterwards.
  const before = watches.length;
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal(watches.length, before, 'no watch after giving up');
  await ctx.close();
});
