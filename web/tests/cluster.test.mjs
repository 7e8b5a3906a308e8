// Three real `chatcast serve` nodes on one PostgreSQL and one Redis, behind
// nginx with the tested config of deploy/nginx.conf (round robin, no sticky
// sessions). In Chromium: a visitor on a site of another origin, two
// consultants; chat both ways; a live broadcast; then the node holding the
// visitor's socket is killed (SIGKILL), then the node holding the
// consultant's: the widget and the console come back through nginx by
// themselves, the replica goes live again from a fresh keyframe, and no
// message is lost or shown twice.
//
// Needs CHATCAST_TEST_DATABASE_URL, CHATCAST_TEST_REDIS_URL and
// CHATCAST_TEST_NGINX (scripts/test finds or installs them); fails saying
// which is missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import {
  BIN, ADMIN, startSite, launchBrowser, consoleLogin, openWidget, waitFor, grant, replicaText, shot,
} from './harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PG = process.env.CHATCAST_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const REDIS = process.env.CHATCAST_TEST_REDIS_URL || 'redis://127.0.0.1:6379/0';
const NGINX = process.env.CHATCAST_TEST_NGINX || 'nginx';

const SHOP = `<h1 id="headline">Shop front</h1>
<p>Counter: <span id="counter">0</span> <button id="bump" onclick="document.getElementById('counter').textContent = String(Number(document.getElementById('counter').textContent) + 1)">Bump</button></p>`;

let cluster, site, browser;

async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

function psql(url, sql) {
  execFileSync('psql', [url, '-qAtc', sql], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts one node on `port`; resolves once it listens. */
async function startNode(c, port) {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatcast-node-'));
  const child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--database-url', c.dbUrl, '--redis-url', REDIS, '--data-dir', dataDir], {
    env: {
      ...process.env,
      CHATCAST_ADMIN_EMAIL: ADMIN.email,
      CHATCAST_ADMIN_PASSWORD: ADMIN.password,
      CHATCAST_CLUSTER_NAME: c.name,
      // The console is reached through nginx: that is its origin, and nginx names the client.
      CHATCAST_PUBLIC_ORIGINS: c.url,
      CHATCAST_TRUSTED_PROXIES: '127.0.0.1',
      CHATCAST_LOG: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => l.startsWith('chatcast listening on') && resolve());
    child.on('exit', (code) => reject(new Error(`node on ${port} exited with ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error(`node on ${port} did not start: ${stderr}`)), 30_000);
  });
  return { port, child, dataDir, stderr: () => stderr };
}

/** Sockets a node holds, by endpoint, from its /metrics (answered on loopback). */
async function sockets(node, endpoint) {
  const text = await fetch(`http://127.0.0.1:${node.port}/metrics`).then((r) => r.text()).catch(() => '');
  const m = text.match(new RegExp(`chatcast_sockets_open\\{endpoint="${endpoint}"\\} (\\d+)`));
  return m ? Number(m[1]) : 0;
}

/** The live node holding the most sockets of this endpoint. */
async function busiest(endpoint) {
  let best = null;
  let most = 0;
  for (const n of cluster.nodes.filter((n) => !n.killed)) {
    const k = await sockets(n, endpoint);
    if (k > most) { best = n; most = k; }
  }
  assert.ok(best, `a node holding a ${endpoint} socket`);
  return best;
}

/** Records every connection state the console page shows from now on. */
async function recordConnStates(page) {
  await page.evaluate(() => {
    const el = document.querySelector('[data-testid="connection-state"]');
    window.__connStates = [el.getAttribute('data-state')];
    new MutationObserver(() => window.__connStates.push(el.getAttribute('data-state'))).observe(el, { attributes: true });
  });
}

/** The live node that holds a socket of this endpoint. */
async function holder(endpoint) {
  let found = null;
  await waitFor(async () => {
    for (const n of cluster.nodes.filter((n) => n.child.exitCode === null && !n.killed)) {
      if ((await sockets(n, endpoint)) > 0) { found = n; return true; }
    }
    return false;
  }, `a node holding a ${endpoint} socket`);
  return found;
}

function kill(node) {
  node.killed = true;
  node.child.kill('SIGKILL');
}

before(async () => {
  try {
    psql(PG, 'SELECT 1');
  } catch (e) {
    throw new Error(`PostgreSQL at ${PG} does not answer (set CHATCAST_TEST_DATABASE_URL; scripts/test does): ${e.stderr ?? e}`);
  }
  try {
    execFileSync(NGINX, ['-v'], { stdio: 'ignore' });
  } catch {
    throw new Error(`nginx (${NGINX}) cannot run: set CHATCAST_TEST_NGINX or install nginx (scripts/test does)`);
  }
  const name = `chatcast_e2e_${process.pid}`;
  psql(PG, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  psql(PG, `CREATE DATABASE ${name}`);
  const base = PG.split('?')[0];
  const dbUrl = `${base.slice(0, base.lastIndexOf('/'))}/${name}`;
  const lbPort = await freePort();
  cluster = { name, dbUrl, url: `http://127.0.0.1:${lbPort}`, nodes: [], nginx: null, prefix: mkdtempSync(join(tmpdir(), 'chatcast-nginx-')) };
  const ports = [await freePort(), await freePort(), await freePort()];
  for (const p of ports) cluster.nodes.push(await startNode(cluster, p));

  // deploy/nginx.conf as shipped, with this run's ports.
  // In one pass: a port put in must not be rewritten by the next replacement.
  const portFor = { 8080: lbPort, 8081: ports[0], 8082: ports[1], 8083: ports[2] };
  const conf = readFileSync(join(root, 'deploy', 'nginx.conf'), 'utf8').replace(/\b808[0-3]\b/g, (p) => String(portFor[p]));
  mkdirSync(join(cluster.prefix, 'logs'), { recursive: true });
  mkdirSync(join(cluster.prefix, 'temp'), { recursive: true });
  writeFileSync(join(cluster.prefix, 'nginx.conf'), conf);
  const args = ['-p', cluster.prefix, '-c', join(cluster.prefix, 'nginx.conf')];
  // In the foreground; as root, workers stay root so that they can use the scratch prefix.
  args.push('-g', process.getuid?.() === 0 ? 'daemon off; user root;' : 'daemon off;');
  // No pipes to this process: a stray worker must not hold the test's output open.
  cluster.nginx = spawn(NGINX, args, { stdio: 'ignore' });
  await waitFor(async () => (await fetch(`${cluster.url}/healthz`).then((r) => r.ok).catch(() => false)), 'nginx to answer', 15_000);

  site = await startSite(cluster.url, { '/shop': SHOP });
  site.key = execFileSync(BIN, ['site', 'add', '--name', 'Cluster shop', '--origin', site.origin, '--database-url', dbUrl], { encoding: 'utf8' })
    .trim().split('\n').pop();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
  // SIGTERM: the master stops its workers too (SIGKILL would leave them holding the port).
  if (cluster?.nginx && cluster.nginx.exitCode === null) {
    const exited = new Promise((r) => cluster.nginx.once('exit', r));
    cluster.nginx.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  }
  for (const n of cluster?.nodes ?? []) {
    n.child.kill('SIGKILL');
    rmSync(n.dataDir, { recursive: true, force: true });
  }
  if (cluster) {
    rmSync(cluster.prefix, { recursive: true, force: true });
    try { psql(PG, `DROP DATABASE IF EXISTS ${cluster.name} WITH (FORCE)`); } catch {}
  }
});

/** Messages of the consultant's open dialog with this text. */
function consoleMessages(consultant, text) {
  return consultant.getByTestId('dialog').locator('[data-testid="chat-message"]').filter({ hasText: text });
}

function widgetMessages(visitor, text) {
  return visitor.getByTestId('widget-message').filter({ hasText: text });
}

test('through nginx: chat and a live broadcast survive SIGKILL of the visitor\'s node, then of the consultant\'s', { timeout: 180_000 }, async () => {
  const vctx = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const visitor = await vctx.newPage();
  await visitor.goto(`${site.origin}/shop`);
  await openWidget(visitor);
  await visitor.getByTestId('widget-input').fill('Hello from the shop');
  await visitor.getByTestId('widget-send').click();

  // Two consultants, wherever nginx put them; both see the visitor and the message.
  const consultant = await consoleLogin(browser, cluster.url);
  const second = await consoleLogin(browser, cluster.url);
  for (const c of [consultant, second]) {
    await c.getByTestId('visitor-item').first().waitFor();
    await c.getByTestId('visitor-item').first().click();
    await consoleMessages(c, 'Hello from the shop').waitFor();
  }
  await consultant.getByTestId('chat-input').fill('Hi, how can I help?');
  await consultant.getByTestId('chat-send').click();
  await widgetMessages(visitor, 'Hi, how can I help?').waitFor();
  await consoleMessages(second, 'Hi, how can I help?').waitFor();

  // A live broadcast, with a change on the page seen in the replica.
  const host = await grant(consultant, visitor);
  await visitor.click('#bump');
  await replicaText(host, '#counter', '1');

  // 1. The node holding the visitor's chat socket dies.
  const visitorNode = await holder('visitor');
  const killedAt = Date.now();
  kill(visitorNode);
  await visitor.click('#bump');
  await replicaText(host, '#counter', '2', 15_000);
  const replicaBack = Date.now() - killedAt;
  await visitor.getByTestId('widget-input').fill('Still there after the crash?');
  await visitor.getByTestId('widget-send').click();
  await consoleMessages(consultant, 'Still there after the crash?').waitFor({ timeout: 15_000 });
  const chatBack = Date.now() - killedAt;
  console.log(`cluster e2e: visitor's node killed → replica live again in ${replicaBack} ms, chat delivered in ${chatBack} ms`);
  assert.ok(replicaBack <= 5_000, `the replica was live again ${replicaBack} ms after the kill (goal ≤ 5 s)`);
  await shot(host, 'cluster-after-visitor-node-killed');

  // 2. A consultant's node dies: the one holding most console sockets (the two
  // consoles' and the screencast window's, over the two nodes left), so that
  // at least one of the two console pages loses its socket.
  await recordConnStates(consultant);
  await recordConnStates(second);
  const consoleNode = await busiest('console');
  const killed2 = Date.now();
  kill(consoleNode);
  // The console says it is reconnecting, then comes back by itself.
  await visitor.click('#bump');
  await replicaText(host, '#counter', '3', 15_000);
  const replicaBack2 = Date.now() - killed2;
  await consultant.getByTestId('chat-input').fill('Yes, still here.');
  await consultant.getByTestId('chat-send').click();
  await widgetMessages(visitor, 'Yes, still here.').waitFor({ timeout: 15_000 });
  console.log(`cluster e2e: consultant's node killed → replica live again in ${replicaBack2} ms`);
  const states = [await consultant.evaluate(() => window.__connStates), await second.evaluate(() => window.__connStates)];
  assert.ok(states.some((s) => s.includes('reconnecting')), `a console showed "Reconnecting…" while its node was gone: ${JSON.stringify(states)}`);
  for (const page of [consultant, second]) {
    await waitFor(async () => (await page.getByTestId('connection-state').getAttribute('data-state')) === 'open', 'every console connected again');
  }
  assert.ok(replicaBack2 <= 5_000, `the replica was live again ${replicaBack2} ms after the kill (goal ≤ 5 s)`);

  // Nothing lost, nothing twice: on both sides and in storage.
  for (const text of ['Hello from the shop', 'Hi, how can I help?', 'Still there after the crash?', 'Yes, still here.']) {
    await waitFor(async () => (await consoleMessages(consultant, text).count()) === 1, `"${text}" once in the console`);
    await waitFor(async () => (await widgetMessages(visitor, text).count()) === 1, `"${text}" once in the widget`);
    const stored = execFileSync('psql', [cluster.dbUrl, '-qAtc', `SELECT COUNT(*) FROM messages WHERE body = '${text}'`], { encoding: 'utf8' }).trim();
    assert.equal(stored, '1', `"${text}" stored once`);
  }
  await shot(consultant, 'cluster-console-after-two-kills');
  await vctx.close();
});
