// End-to-end harness: the real chatcast binary on a port-0 listener with a
// fresh data dir, a second HTTP server that plays "the customer's website" on
// another origin, and Debian's Chromium driven by playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.CHATCAST_BIN || join(root, 'target', 'debug', 'chatcast');
export const ADMIN = { email: 'admin@example.com', password: 'admin-password' };

/** Runs a chatcast subcommand against `dataDir`; returns stdout. */
export function cli(dataDir, ...args) {
  return execFileSync(BIN, [...args, '--data-dir', dataDir], { encoding: 'utf8' });
}

/** Starts `chatcast serve` on `dataDir` (a new temp dir unless given) and `listen` (a free port unless given). */
export async function startServer({ dataDir = mkdtempSync(join(tmpdir(), 'chatcast-e2e-')), listen = '127.0.0.1:0', env = {} } = {}) {
  const child = spawn(BIN, ['serve', '--listen', listen, '--data-dir', dataDir], {
    env: { ...process.env, CHATCAST_ADMIN_EMAIL: ADMIN.email, CHATCAST_ADMIN_PASSWORD: ADMIN.password, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const m = line.match(/^chatcast listening on (\S+)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`chatcast exited with ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error(`chatcast did not start within 20 s: ${stderr}`)), 20_000);
  });
  return {
    url,
    dataDir,
    child,
    stderr: () => stderr,
    /** SIGTERM, then wait for a clean exit. */
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * An SMTP sink on a free loopback port, as a mail relay would be: takes every
 * message. `sink.url` is the `smtp://` URL for the server; `sink.mails` holds
 * {to, data} for each message; `sink.next()` waits for the next one.
 */
export async function startSmtpSink() {
  const sink = { url: '', mails: [], waiting: [], close: null };
  const srv = createTcpServer((sock) => {
    let buf = '';
    let to = [];
    let data = null;
    const say = (line) => sock.write(line + '\r\n');
    say('220 sink ready');
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (data !== null) {
          if (line === '.') {
            const mail = { to, data };
            sink.mails.push(mail);
            sink.waiting.splice(0).forEach((w) => w());
            to = [];
            data = null;
            say('250 queued');
          } else data += (line.startsWith('.') ? line.slice(1) : line) + '\n';
          continue;
        }
        const verb = line.split(/[ :]/)[0].toUpperCase();
        if (verb === 'EHLO') say('250-sink\r\n250 8BITMIME');
        else if (verb === 'RCPT') { to.push((line.match(/<([^>]*)>/) || [])[1]); say('250 ok'); }
        else if (verb === 'DATA') { data = ''; say('354 go on'); }
        else if (verb === 'QUIT') { say('221 bye'); sock.end(); }
        else say('250 ok');
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  sink.url = `smtp://127.0.0.1:${srv.address().port}`;
  /** The first message (from `from` on) that `match` accepts, within `timeout` ms. */
  sink.next = async (match = () => true, timeout = 15_000, from = 0) => {
    const end = Date.now() + timeout;
    for (;;) {
      const found = sink.mails.slice(from).find(match);
      if (found) return found;
      if (Date.now() > end) throw new Error(`no matching email within ${timeout} ms; got ${JSON.stringify(sink.mails)}`);
      await new Promise((r) => { sink.waiting.push(r); setTimeout(r, 250); });
    }
  };
  sink.close = () => new Promise((r) => srv.close(r));
  return sink;
}

/** Removes a data dir made by startServer. */
export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A website on another origin that embeds the widget. `pages` maps a path to
 * its HTML body, or to {body, csp?, noWidget?, lateWidget?} (body: a string,
 * or a function that makes it when the page is asked for): a
 * Content-Security-Policy to serve it with; no widget at all (a frame's
 * inner page); the widget added by a script after `lateWidget` ms, as a tag
 * manager does. The script tag is added to every other page. Set `site.key`
 * once the site exists (its origin is only known after this starts).
 * `site.requests` lists every path asked for.
 */
export async function startSite(serverUrl, pages) {
  const site = { key: '', origin: '', close: null, requests: [] };
  const srv = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    site.requests.push(req.url);
    const page = pages[path];
    if (page === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    const raw = typeof page === 'string' ? page : page.body;
    const body = typeof raw === 'function' ? raw() : raw;
    const headers = { 'content-type': 'text/html; charset=utf-8' };
    if (page.csp) headers['content-security-policy'] = page.csp;
    res.writeHead(200, headers);
    const widget = page.noWidget
      ? ''
      : page.lateWidget
        ? `<script>setTimeout(() => { const s = document.createElement('script'); s.src = ${JSON.stringify(`${serverUrl}/widget.js`)};
s.dataset.site = ${JSON.stringify(site.key)}; document.body.appendChild(s); }, ${Number(page.lateWidget)});</script>`
        : `<script src="${serverUrl}/widget.js" data-site="${site.key}" async></script>`;
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${path}</title>
<style>body{font:16px sans-serif;margin:0;padding:24px}</style></head><body>${body}
${widget}</body></html>`);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  site.origin = `http://127.0.0.1:${srv.address().port}`;
  site.close = () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); });
  return site;
}

/** Adds a site for `origin` with the CLI and returns its key (the last line of output). */
export function addSite(dataDir, name, origin) {
  return cli(dataDir, 'site', 'add', '--name', name, '--origin', origin).trim().split('\n').pop();
}

/** Launches Debian's Chromium headless. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ],
  });
}

/** Logs a consultant into the console in a new page. */
export async function consoleLogin(browser, serverUrl, { email, password } = ADMIN) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(`${serverUrl}/console/`);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  return page;
}

/** The widget's shadow-root elements are reachable with getByTestId (open shadow root). */
export async function openWidget(page) {
  await page.getByTestId('widget-launcher').click();
  await page.getByTestId('widget-input').waitFor();
}

/** Saves a screenshot under web/tests/screenshots when CHATCAST_SCREENSHOTS is set. */
export async function shot(page, name) {
  if (!process.env.CHATCAST_SCREENSHOTS) return;
  await page.screenshot({ path: join(root, 'web', 'tests', 'screenshots', `${name}.png`) });
}

// ---- screen broadcast steps, as a consultant and a visitor take them

/** Polls `cond` every 50 ms until it holds; fails naming `what`. */
export async function waitFor(cond, what, timeout = 10_000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

export async function buttonState(consultant) {
  return consultant.getByTestId('screencast-button').getAttribute('data-state');
}

/** Presses the screencast button. */
export async function pressScreencast(consultant) {
  await consultant.getByTestId('screencast-button').click();
}

/**
 * Where the screencast view opened: its popup window, or the console page
 * itself when it is shown as a panel.
 */
export async function viewHost(consultant) {
  const ctx = consultant.context();
  for (let attempt = 0; ; attempt++) {
    let host = null;
    await waitFor(async () => {
      host = ctx.pages().find((p) => !p.isClosed() && p.url().includes('screencast')) ?? null;
      if (!host && (await consultant.getByTestId('screencast-view').isVisible())) host = consultant;
      return host !== null;
    }, 'the screencast view to open', 30_000).catch(async (e) => {
      const state = await buttonState(consultant).catch(() => '?');
      throw new Error(`${e.message} (button ${state}; pages: ${ctx.pages().map((p) => p.url()).join(', ')})`);
    });
    try {
      await host.getByTestId('screencast-view').waitFor();
      await host.getByTestId('replica-frame').waitFor();
      return host;
    } catch (e) {
      // A window from before a Stop was still closing: look again.
      if (attempt > 2 || !host.isClosed()) throw e;
    }
  }
}

/** Grants a fresh request: press, Yes in the widget, wait for the replica to show `ready` ([selector, text]). */
export async function grant(consultant, visitor, ready = ['#headline', 'Shop front']) {
  await pressScreencast(consultant);
  await visitor.getByTestId('consent-block').waitFor();
  await visitor.getByTestId('consent-yes').click();
  const host = await viewHost(consultant);
  await replicaText(host, ready[0], ready[1]);
  return host;
}

/** Waits for an element of the replica to have a text. */
export async function replicaText(host, selector, text, timeout = 10_000) {
  const frame = host.frameLocator('[data-testid="replica-frame"]');
  await waitFor(async () => {
    const t = await frame.locator(selector).first().textContent({ timeout: 200 }).catch(() => null);
    return t !== null && t.includes(text);
  }, `replica ${selector} to show "${text}"`, timeout);
}

export async function notice(consultant, reason) {
  const n = consultant.locator(`[data-testid="screencast-notice"][data-reason="${reason}"]`);
  await n.waitFor({ timeout: 20_000 });
  return n;
}
