// A visitor on a page served from another origin chats with a logged-in
// consultant: both directions, across a visitor reload, while the server is
// down (the outbox) and across a server restart (history intact).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startSite, addSite, launchBrowser, consoleLogin, openWidget, removeDir, shot } from './harness.mjs';

let server, site, browser;

before(async () => {
  server = await startServer();
  site = await startSite(server.url, {
    '/': '<h1>Welcome to the shop</h1><a href="/pricing">Pricing</a>',
    '/pricing': '<h1>Pricing</h1>',
  });
  site.key = addSite(server.dataDir, 'E2E shop', site.origin);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
  removeDir(server.dataDir);
});

/** Messages shown in the widget, as [author, text] pairs. */
async function widgetMessages(page) {
  const items = page.getByTestId('widget-message');
  const out = [];
  for (const el of await items.all()) out.push([await el.getAttribute('data-author'), (await el.innerText()).trim()]);
  return out;
}

test('cross-origin chat both ways, across a reload and a server restart', { timeout: 120_000 }, async () => {
  const vctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const visitor = await vctx.newPage();
  await visitor.goto(`${site.origin}/`);
  await openWidget(visitor);
  await visitor.getByTestId('widget-input').fill('Hello, is anyone there?');
  await visitor.getByTestId('widget-send').click();

  const consultant = await consoleLogin(browser, server.url);
  const item = consultant.getByTestId('visitor-item');
  await item.first().waitFor();
  assert.equal(await item.count(), 1, 'one visitor online');
  const visitorId = await item.first().getAttribute('data-visitor-id');
  assert.match(visitorId, /^v_/);
  // Titled by a readable name, stable for the visitor; the page is a detail.
  const name = (await item.first().locator('.vitem-title').innerText()).trim();
  assert.match(name, /^[A-Z][a-z]+ [A-Z][a-z]+$/, `a two-word name: ${name}`);
  await item.first().click();
  const dialog = consultant.getByTestId('dialog');
  await dialog.waitFor();
  assert.equal((await consultant.getByTestId('dialog-visitor-name').innerText()).trim(), name);
  await consultant.getByTestId('dialog-page-title').filter({ hasText: /\S/ }).waitFor();
  const fromVisitor = dialog.locator('[data-testid="chat-message"][data-author="visitor"]');
  await fromVisitor.filter({ hasText: 'Hello, is anyone there?' }).waitFor();

  await consultant.getByTestId('chat-input').fill('Hi! I am here to help.');
  await consultant.getByTestId('chat-send').click();
  const reply = visitor.locator('[data-testid="widget-message"][data-author="consultant"]');
  await reply.filter({ hasText: 'Hi! I am here to help.' }).waitFor();
  await shot(visitor, 'chat-visitor');
  await shot(consultant, 'chat-consultant');

  // The visitor navigates: the console follows, and the widget keeps the dialog.
  await visitor.goto(`${site.origin}/pricing`);
  await consultant.getByTestId('visitor-item').filter({ hasText: 'Pricing' }).waitFor();
  await visitor.getByTestId('widget-message').filter({ hasText: 'Hi! I am here to help.' }).waitFor();

  // A reload keeps the identity and the history (and the name).
  await visitor.reload();
  await visitor.getByTestId('widget-message').filter({ hasText: 'Hello, is anyone there?' }).waitFor();
  await visitor.getByTestId('widget-message').filter({ hasText: 'Hi! I am here to help.' }).waitFor();
  assert.equal(await consultant.getByTestId('visitor-item').getAttribute('data-visitor-id'), visitorId, 'same visitor after reload');
  assert.equal((await consultant.getByTestId('visitor-item').locator('.vitem-title').innerText()).trim(), name, 'and the same name');

  // The server goes down; the visitor writes anyway; the server comes back on the same address.
  const listen = new URL(server.url).host;
  assert.equal(await server.stop(), 0, 'clean exit on SIGTERM');
  await openWidgetIfClosed(visitor);
  await visitor.getByTestId('widget-input').fill('Written while you were away');
  await visitor.getByTestId('widget-send').click();
  server = await startServer({ dataDir: server.dataDir, listen });

  // Delivered once when the connection is back; the console reconnects by itself.
  await consultant
    .locator('[data-testid="chat-message"][data-author="visitor"]')
    .filter({ hasText: 'Written while you were away' })
    .waitFor({ timeout: 40_000 });
  await consultant.getByTestId('chat-input').fill('Welcome back');
  await consultant.getByTestId('chat-send').click();
  await visitor.locator('[data-testid="widget-message"][data-author="consultant"]').filter({ hasText: 'Welcome back' }).waitFor();

  // History is intact after the restart, with nothing doubled, on both sides.
  await visitor.reload();
  await visitor.getByTestId('widget-message').filter({ hasText: 'Welcome back' }).waitFor();
  const texts = (await widgetMessages(visitor)).map(([, t]) => t);
  for (const t of ['Hello, is anyone there?', 'Hi! I am here to help.', 'Written while you were away', 'Welcome back']) {
    assert.equal(texts.filter((x) => x.includes(t)).length, 1, `"${t}" shown exactly once in the widget: ${JSON.stringify(texts)}`);
  }
  await consultant.reload();
  await consultant.getByTestId('visitor-item').first().click();
  const all = consultant.getByTestId('chat-message');
  await all.filter({ hasText: 'Welcome back' }).waitFor();
  assert.equal(await all.filter({ hasText: 'Written while you were away' }).count(), 1);
  await vctx.close();
  await consultant.context().close();
});

test('two consultants see the same dialog live; unread counts', { timeout: 60_000 }, async () => {
  const vctx = await browser.newContext();
  const visitor = await vctx.newPage();
  await visitor.goto(`${site.origin}/`);
  const a = await consoleLogin(browser, server.url);
  const b = await consoleLogin(browser, server.url);
  await openWidgetIfClosed(visitor);
  await visitor.getByTestId('widget-input').fill('First question');
  await visitor.keyboard.press('Enter');

  // B has not opened the dialog: an unread badge.
  // The first test's visitor has left: one visitor online.
  await b.getByTestId('visitor-item').first().waitFor();
  assert.equal(await b.getByTestId('visitor-item').count(), 1);
  const vid = await b.getByTestId('visitor-item').getAttribute('data-visitor-id');
  const itemB = b.locator(`[data-testid="visitor-item"][data-visitor-id="${vid}"]`);
  await itemB.getByTestId('unread-count').filter({ hasText: '1' }).waitFor();

  await a.locator(`[data-testid="visitor-item"][data-visitor-id="${vid}"]`).click();
  await b.locator(`[data-testid="visitor-item"][data-visitor-id="${vid}"]`).click();
  await a.getByTestId('chat-input').fill('Answer from A');
  await a.getByTestId('chat-input').press('Enter');
  await b.getByTestId('chat-message').filter({ hasText: 'Answer from A' }).waitFor();
  await visitor.getByTestId('widget-message').filter({ hasText: 'Answer from A' }).waitFor();
  await vctx.close();
  await a.context().close();
  await b.context().close();
});

async function openWidgetIfClosed(page) {
  if (!(await page.getByTestId('widget-input').isVisible())) await openWidget(page);
}


test('a visitor sending faster than the limit loses nothing: the widget says so and sends the rest by itself', { timeout: 90_000 }, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const visitor = await ctx.newPage();
  await visitor.goto(`${site.origin}/`);
  await openWidget(visitor);
  // 26 messages as fast as a script can type them: the server takes 20 at once, then one a second.
  const n = 26;
  for (let i = 0; i < n; i++) {
    await visitor.getByTestId('widget-input').fill(`burst message ${i}`);
    await visitor.getByTestId('widget-input').press('Enter');
  }
  const notice = visitor.getByTestId('widget-error');
  await notice.filter({ hasText: 'more slowly' }).waitFor({ timeout: 10_000 });
  // Every message ends up stored (sent), none failed, in the order typed.
  const mine = visitor.locator('[data-testid="widget-message"][data-author="visitor"]');
  const deadline = Date.now() + 40_000;
  for (;;) {
    const states = await mine.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    if (states.length === n && states.every((s) => s === 'sent')) break;
    assert.ok(!states.includes('failed'), `a message failed: ${states}`);
    assert.ok(Date.now() < deadline, `not all sent: ${states}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const texts = (await mine.allInnerTexts()).map((t) => t.match(/burst message (\d+)/)?.[1]);
  assert.deepEqual(texts.map(Number), [...Array(n).keys()]);
  await ctx.close();
});

test('the console fits a 390 px phone: no page scrolls sideways', { timeout: 60_000 }, async () => {
  const vctx = await browser.newContext();
  const visitor = await vctx.newPage();
  await visitor.goto(`${site.origin}/pricing`);
  await openWidget(visitor);
  await visitor.getByTestId('widget-input').fill('Written on a phone-sized screen, with a message long enough to wrap');
  await visitor.getByTestId('widget-send').click();
  const consultant = await consoleLogin(browser, server.url);
  await consultant.setViewportSize({ width: 390, height: 844 });
  const sideways = () => consultant.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  const item = consultant.getByTestId('visitor-item').filter({ hasText: 'Pricing' }).first();
  await item.waitFor();
  assert.equal(await sideways(), 0, 'the inbox');
  await item.click();
  await consultant.getByTestId('dialog').waitFor();
  await consultant.getByTestId('chat-message').filter({ hasText: 'phone-sized' }).waitFor();
  assert.equal(await sideways(), 0, 'a dialog');
  for (const nav of ['nav-sites', 'nav-team', 'nav-audit']) {
    await consultant.getByTestId(nav).click();
    await consultant.waitForTimeout(300);
    assert.equal(await sideways(), 0, nav);
  }
  await shot(consultant, 'console-390-team');
  await consultant.context().close();
  await vctx.close();
});
