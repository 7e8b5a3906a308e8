// The team console's daily work: typing indicators both ways (never the
// text: checked on the wire) and "Seen" once the widget really showed a reply.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startSite, addSite, launchBrowser, consoleLogin, openWidget, removeDir, shot, waitFor } from './harness.mjs';

let server, site, browser;

before(async () => {
  server = await startServer();
  site = await startSite(server.url, { '/': '<h1>Shop</h1><p>Shoes and boots.</p>' });
  site.key = addSite(server.dataDir, 'Team shop', site.origin);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
  removeDir(server.dataDir);
});

/** Every text frame a page's sockets send and receive, in order. */
function recordFrames(page) {
  const frames = { sent: [], received: [] };
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => typeof f.payload === 'string' && frames.sent.push(f.payload));
    ws.on('framereceived', (f) => typeof f.payload === 'string' && frames.received.push(f.payload));
  });
  return frames;
}

/** A visitor who wrote once, and a consultant with that dialog open. */
async function dialogOpen(first) {
  const vctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const visitor = await vctx.newPage();
  const wire = recordFrames(visitor);
  await visitor.goto(`${site.origin}/`);
  await openWidget(visitor);
  await visitor.getByTestId('widget-input').fill(first);
  await visitor.getByTestId('widget-send').click();
  const consultant = await consoleLogin(browser, server.url);
  const consoleWire = recordFrames(consultant);
  const item = consultant.getByTestId('visitor-item').filter({ hasText: first });
  await item.waitFor();
  await item.click();
  await consultant.locator('[data-testid="chat-message"][data-author="visitor"]').filter({ hasText: first }).waitFor();
  return { visitor, consultant, wire, consoleWire };
}

test('typing shows both ways, and no typed character travels before send', { timeout: 90_000 }, async () => {
  const { visitor, consultant, wire, consoleWire } = await dialogOpen('Do you have boots in 44?');
  const indicator = consultant.getByTestId('typing-indicator');
  assert.equal(await indicator.isVisible(), false, 'nobody types yet');

  // The visitor types a draft: the console says so, the wire carries no letter of it.
  await visitor.getByTestId('widget-input').pressSequentially('Zebra-Quartz draft', { delay: 40 });
  await indicator.waitFor({ state: 'visible' });
  assert.match(await indicator.innerText(), /is typing/);
  const typingFrames = wire.sent.filter((f) => JSON.parse(f).t === 'typing');
  assert.ok(typingFrames.length >= 1, 'the widget said it types');
  assert.ok(typingFrames.length <= 3, `throttled: ${typingFrames.length} typing frames for 18 keys`);
  for (const f of typingFrames) assert.deepEqual(Object.keys(JSON.parse(f)).sort(), ['t', 'v'], `no text in ${f}`);
  const leaks = (frames) => frames.filter((f) => /Zebra|Quartz/.test(f));
  assert.deepEqual(leaks(wire.sent), [], 'the draft did not leave the page');
  assert.deepEqual(leaks(consoleWire.received), [], 'the console got no letter of it');
  await shot(consultant, 'team-typing-console');

  // Sent: now it travels (positive control), and the indicator goes.
  await visitor.getByTestId('widget-send').click();
  await consultant.locator('[data-testid="chat-message"][data-author="visitor"]').filter({ hasText: 'Zebra-Quartz draft' }).waitFor();
  assert.ok(leaks(wire.sent).length > 0, 'the sent message did travel');
  await indicator.waitFor({ state: 'hidden' });

  // The consultant types: the widget shows who, and the visitor's page gets no letter of it.
  const vIndicator = visitor.getByTestId('widget-typing-indicator');
  assert.equal(await vIndicator.isVisible(), false);
  await consultant.getByTestId('chat-input').pressSequentially('Yes, Koala-Mango boots', { delay: 40 });
  await vIndicator.waitFor({ state: 'visible' });
  // Named as visitors see consultants: admin@example.com is "Support", never "Admin" or an email.
  assert.equal((await vIndicator.innerText()).trim(), 'Support is typing…');
  assert.deepEqual(wire.received.filter((f) => /Koala|Mango/.test(f)), [], 'no draft letter reached the visitor');
  await shot(visitor, 'team-typing-widget');
  await consultant.getByTestId('chat-send').click();
  await visitor.locator('[data-testid="widget-message"][data-author="consultant"]').filter({ hasText: 'Koala-Mango' }).waitFor();
  await vIndicator.waitFor({ state: 'hidden' });

  // The indicator also lapses by itself when typing stops without a send.
  await visitor.getByTestId('widget-input').pressSequentially('hm', { delay: 40 });
  await indicator.waitFor({ state: 'visible' });
  await indicator.waitFor({ state: 'hidden', timeout: 9000 });
  await visitor.context().close();
  await consultant.context().close();
});

test('"Seen" appears only once the widget showed the reply, and survives a console reload', { timeout: 90_000 }, async () => {
  const { visitor, consultant } = await dialogOpen('Where is my order?');
  const seen = consultant.getByTestId('message-seen');
  // The visitor folds the widget away; the reply arrives while it is closed.
  await visitor.getByRole('button', { name: 'Minimize chat' }).click();
  await visitor.getByTestId('widget-input').waitFor({ state: 'hidden' });
  await consultant.getByTestId('chat-input').fill('It ships tomorrow.');
  await consultant.getByTestId('chat-send').click();
  const reply = consultant.locator('[data-testid="chat-message"][data-author="consultant"]').filter({ hasText: 'It ships tomorrow.' });
  await reply.waitFor();
  await visitor.getByTestId('widget-unread').filter({ hasText: '1' }).waitFor();
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await seen.count(), 0, 'received but not shown: not seen');

  // Opened: now it is seen, under that reply.
  await openWidget(visitor);
  await seen.waitFor();
  const replyId = await reply.getAttribute('data-id');
  assert.equal(await seen.getAttribute('data-message-id'), replyId);
  await shot(consultant, 'team-seen');

  // Stored: a reloaded console still shows it.
  await consultant.reload();
  await consultant.getByTestId('visitor-item').filter({ hasText: 'It ships tomorrow.' }).click();
  await consultant.getByTestId('message-seen').waitFor();
  assert.equal(await consultant.getByTestId('message-seen').getAttribute('data-message-id'), replyId);

  // A malformed "seen" is refused, saying why (another dialog's ids: tests/storage.rs).
  const moved = await visitor.evaluate(async () => {
    return new Promise((resolve) => {
      const ws = new WebSocket(new URL('/ws/visitor?site=' + document.querySelector('script[data-site]').dataset.site, document.querySelector('script[data-site]').src).href.replace(/^http/, 'ws'));
      ws.onopen = () => ws.send(JSON.stringify({ v: 1, t: 'hello', page: { url: location.href, title: 'x' } }));
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.t === 'welcome') ws.send(JSON.stringify({ v: 1, t: 'seen', message_id: 'not-a-number' }));
        if (m.t === 'error') resolve(m);
      };
      setTimeout(() => resolve(null), 5000);
    });
  });
  assert.equal(moved?.code, 'bad_message', JSON.stringify(moved));
  assert.equal(moved?.ref_type, 'seen');
  await waitFor(async () => (await seen.getAttribute('data-message-id')) === replyId, 'the mark stayed');
  await visitor.context().close();
  await consultant.context().close();
});
