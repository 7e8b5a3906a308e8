// The team console's daily work: typing indicators both ways (never the
// text: checked on the wire), "Seen" once the widget really showed a reply,
// system lines worded for each reader, a pause before asking again after "No",
// conversations assigned, handed over, closed and reopened, sites renamed and removed.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, startSite, addSite, launchBrowser, consoleLogin, openWidget, removeDir, shot, waitFor, buttonState, pressScreencast, notice, grant, cli,
} from './harness.mjs';

let server, site, browser;

before(async () => {
  server = await startServer({ env: { CHATCAST_CONSENT_RETRY_AFTER_NO_SECS: '12' } });
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

test('after a "No" the button waits, says why, and the server refuses until the pause is over; each side reads its own words', { timeout: 90_000 }, async () => {
  const { visitor, consultant } = await dialogOpen('Just looking, thanks');
  await waitFor(async () => (await buttonState(consultant)) === 'idle', 'button idle');
  await pressScreencast(consultant);
  await visitor.getByTestId('consent-no').click();
  await notice(consultant, 'denied');

  // Each reader has its own words for the same event.
  const vLine = visitor.locator('[data-testid="widget-message"][data-author="system"]').filter({ hasText: 'You declined to show this tab to Support' });
  await vLine.waitFor();
  const cLines = consultant.locator('[data-testid="chat-message"][data-author="system"]');
  await cLines.filter({ hasText: 'The visitor declined screen broadcast' }).waitFor();
  await cLines.filter({ hasText: "Support asked to see the visitor's tab" }).waitFor();
  await visitor.locator('[data-testid="widget-message"][data-author="system"]').filter({ hasText: 'Support asked to see this tab' }).waitFor();
  assert.equal(await visitor.getByText('The visitor declined').count(), 0, 'the visitor never reads about "the visitor"');

  // The button counts down and says why.
  const btn = consultant.getByTestId('screencast-button');
  await waitFor(async () => Number(await btn.getAttribute('data-retry-in')) > 0, 'a countdown');
  assert.equal(await btn.getAttribute('data-state'), 'idle');
  assert.match(await btn.innerText(), /Ask again in \d+ s/);
  assert.match(await btn.getAttribute('title'), /said No/);
  await shot(consultant, 'team-cooldown');

  // Pressed anyway (aria-disabled, so Playwright must force it): the server refuses, the visitor is not asked.
  await consultant.getByTestId('screencast-notice-dismiss').click();
  // Gone first: otherwise the old notice could be read as the server's answer.
  await consultant.getByTestId('screencast-notice').waitFor({ state: 'detached' });
  await btn.click({ force: true });
  const again = await notice(consultant, 'denied');
  assert.match(await again.innerText(), /ask again in \d+ s/);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await visitor.getByTestId('consent-block').isVisible(), false, 'no second question during the pause');

  // After the pause: asking works again (positive control).
  await waitFor(async () => (await btn.getAttribute('data-retry-in')) === null, 'the pause ends', 15_000);
  assert.match(await btn.innerText(), /Show screen/);
  await pressScreencast(consultant);
  await visitor.getByTestId('consent-block').waitFor();
  await visitor.context().close();
  await consultant.context().close();
});

test('an ended broadcast window says so with a Close button, and the next broadcast window replaces it', { timeout: 120_000 }, async () => {
  const { visitor: first, consultant } = await dialogOpen('Can you look at my cart?');
  const hostA = await grant(consultant, first, ['h1', 'Shop']);
  assert.notEqual(hostA, consultant, 'a window of its own');
  await first.getByTestId('viewing-stop').click();
  await hostA.getByTestId('screencast-ended').waitFor();
  await hostA.getByTestId('screencast-window-close').waitFor();
  await shot(hostA, 'team-window-ended');

  // Another visitor's broadcast: its window opens, the ended one goes.
  const vctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const second = await vctx.newPage();
  await second.goto(`${site.origin}/`);
  await openWidget(second);
  await second.getByTestId('widget-input').fill('Me too, please');
  await second.getByTestId('widget-send').click();
  await consultant.getByTestId('visitor-item').filter({ hasText: 'Me too, please' }).click();
  await consultant.locator('[data-testid="chat-message"][data-author="visitor"]').filter({ hasText: 'Me too, please' }).waitFor();
  const hostB = await grant(consultant, second, ['h1', 'Shop']);
  await waitFor(async () => hostA.isClosed(), 'the ended window closed');
  assert.equal(hostB.isClosed(), false, 'the live one stays');

  // Its Close button closes it once it ended (positive control of the button).
  await second.getByTestId('viewing-stop').click();
  // The click closes the page it is on: Playwright may see the page go mid-click.
  await hostB.getByTestId('screencast-window-close').click().catch((e) => {
    if (!/closed/.test(e.message)) throw e;
  });
  await waitFor(async () => hostB.isClosed(), 'closed by its button');
  await first.context().close();
  await vctx.close();
  await consultant.context().close();
});

test('desktop notifications and a sound for messages not on screen, once the consultant turns them on', { timeout: 90_000 }, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.grantPermissions(['notifications'], { origin: server.url });
  // What the page shows as notifications and plays as sound, recorded.
  await ctx.addInitScript(() => {
    window.__notes = [];
    window.__beeps = 0;
    const Real = window.Notification;
    class Recorded extends Real {
      constructor(title, opts) {
        super(title, opts);
        window.__notes.push({ title, body: opts?.body ?? '' });
      }
    }
    Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
    Recorded.requestPermission = (...a) => Real.requestPermission(...a);
    window.Notification = Recorded;
    const osc = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function (...a) {
      window.__beeps++;
      return osc.apply(this, a);
    };
  });
  const consultant = await ctx.newPage();
  await consultant.goto(`${server.url}/console/`);
  await consultant.getByTestId('login-email').fill('admin@example.com');
  await consultant.getByTestId('login-password').fill('admin-password');
  await consultant.getByTestId('login-submit').click();
  await consultant.getByTestId('connection-state').and(consultant.locator('[data-state="open"]')).waitFor();

  const notes = () => consultant.evaluate(() => window.__notes);
  const visitorWrites = async (page, text) => {
    await page.getByTestId('widget-input').fill(text);
    await page.getByTestId('widget-send').click();
  };
  const vctx = await browser.newContext();
  const visitor = await vctx.newPage();
  await visitor.goto(`${site.origin}/`);
  await openWidget(visitor);

  // Off by default: nothing is shown, nothing asked.
  await visitorWrites(visitor, 'First words, unnoticed');
  await consultant.getByTestId('visitor-item').filter({ hasText: 'First words, unnoticed' }).waitFor();
  assert.deepEqual(await notes(), []);

  // Turned on (the browser's permission is granted here), on the Sites page.
  await consultant.getByTestId('notify-settings').locator('summary').click();
  await consultant.getByTestId('notify-desktop').check();
  await consultant.getByTestId('notify-sound').check();
  await shot(consultant, 'team-notify-menu');
  const beepsBefore = await consultant.evaluate(() => window.__beeps);
  await consultant.getByTestId('nav-sites').click();
  await visitorWrites(visitor, 'Hello? Anyone?');
  await waitFor(async () => (await notes()).length === 1, 'a notification');
  const [note] = await notes();
  assert.match(note.title, /^[A-Z][a-z]+ [A-Z][a-z]+$/, `titled by the visitor's name: ${note.title}`);
  assert.equal(note.body, 'Hello? Anyone?');
  assert.ok((await consultant.evaluate(() => window.__beeps)) > beepsBefore, 'and a sound');

  // A new visitor's first message says it is a new conversation.
  const vctx2 = await browser.newContext();
  const other = await vctx2.newPage();
  await other.goto(`${site.origin}/`);
  await openWidget(other);
  await visitorWrites(other, 'Brand new question');
  await waitFor(async () => (await notes()).length === 2, 'a second notification');
  assert.match((await notes())[1].title, /^New conversation: /);

  // The dialog on screen: no notification for it (the title badge and the log do).
  await consultant.getByTestId('nav-inbox').click();
  await consultant.getByTestId('visitor-item').filter({ hasText: 'Brand new question' }).click();
  await consultant.getByTestId('dialog').waitFor();
  await visitorWrites(other, 'Still here');
  await consultant.locator('[data-testid="chat-message"][data-author="visitor"]').filter({ hasText: 'Still here' }).waitFor();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await notes()).length, 2, 'nothing for the dialog being read');

  // The choice is kept for this consultant in this browser.
  await consultant.reload();
  await consultant.getByTestId('notify-settings').locator('summary').click();
  assert.equal(await consultant.getByTestId('notify-desktop').isChecked(), true);
  assert.equal(await consultant.getByTestId('notify-sound').isChecked(), true);
  await vctx.close();
  await vctx2.close();
  await ctx.close();
});

test('an admin renames and removes a site in the console; its open widget stops at once', { timeout: 90_000 }, async () => {
  const doomed = await startSite(server.url, { '/': '<h1>Doomed shop</h1>' });
  doomed.key = addSite(server.dataDir, 'Doomed shop', doomed.origin);
  const vctx = await browser.newContext();
  const visitor = await vctx.newPage();
  await visitor.goto(`${doomed.origin}/`);
  await openWidget(visitor);
  await visitor.getByTestId('widget-input').fill('Hello from the doomed shop');
  await visitor.getByTestId('widget-send').click();

  const admin = await consoleLogin(browser, server.url);
  await admin.getByTestId('visitor-item').filter({ hasText: 'Hello from the doomed shop' }).waitFor();
  await admin.getByTestId('nav-sites').click();
  const card = admin.locator(`[data-testid="site-item"][data-site-key="${doomed.key}"]`);

  // Rename: a blank name is refused, a real one shows at once.
  await card.getByTestId('site-rename').click();
  await card.getByTestId('site-rename-input').fill('   ');
  await card.getByTestId('site-rename-save').click();
  await card.getByTestId('site-card-error').filter({ hasText: 'name' }).waitFor();
  await card.getByTestId('site-rename-input').fill('Closing-down shop');
  await card.getByTestId('site-rename-save').click();
  await card.locator('h3').filter({ hasText: 'Closing-down shop' }).waitFor();

  // The demo site cannot go while the demo is served; the server says why.
  const demo = admin.getByTestId('site-item').filter({ has: admin.locator('.tag', { hasText: 'demo' }) });
  await demo.getByTestId('site-remove').click();
  await demo.getByTestId('site-remove-confirm').click();
  await demo.getByTestId('site-card-error').filter({ hasText: 'demo = false' }).waitFor();

  // Removed, after saying what goes with it: the visitor's open widget closes at once.
  await card.getByTestId('site-remove').click();
  assert.match(await card.locator('.site-confirm').innerText(), /conversations are deleted/);
  await shot(admin, 'team-site-remove');
  await card.getByTestId('site-remove-confirm').click();
  await card.waitFor({ state: 'detached' });
  await visitor.getByTestId('widget-unavailable').waitFor({ timeout: 5000 });
  // Reloaded: still refused (no new visitor for a removed site), and the console no longer lists the site.
  await visitor.reload(); // the panel stays open across the reload
  await visitor.getByTestId('widget-unavailable').waitFor();
  await admin.reload();
  await admin.getByTestId('site-list').locator('[data-testid="site-item"]').first().waitFor();
  assert.equal(await admin.locator(`[data-testid="site-item"][data-site-key="${doomed.key}"]`).count(), 0);
  // The other site's widget works on (positive control).
  const pctx = await browser.newContext();
  const fine = await pctx.newPage();
  await fine.goto(`${site.origin}/`);
  await openWidget(fine);
  assert.equal(await fine.getByTestId('widget-unavailable').isVisible(), false);
  await pctx.close();
  await vctx.close();
  await admin.context().close();
  await doomed.close();
});

test('a conversation is assigned, handed over, closed, and reopened when the visitor writes again; the views follow live', { timeout: 120_000 }, async () => {
  // Boris joins after the admin's console connected: the handover list still has him.
  const admin = await consoleLogin(browser, server.url);
  await admin.getByTestId('inbox-view').first().waitFor();
  cli(server.dataDir, 'user', 'add', '--email', 'boris@example.com', '--password', 'boris-password', '--name', 'Boris');
  const vctx = await browser.newContext();
  const visitor = await vctx.newPage();
  await visitor.goto(`${site.origin}/`);
  await openWidget(visitor);
  await visitor.getByTestId('widget-input').fill('Where is my order 1234?');
  await visitor.getByTestId('widget-send').click();

  const view = (page, name) => page.locator(`[data-testid="inbox-view"][data-view="${name}"]`);
  const count = async (page, name) => Number(await view(page, name).locator('.count').innerText());
  const item = admin.getByTestId('visitor-item').filter({ hasText: 'Where is my order 1234?' });
  await item.waitFor();
  await item.click();
  const vid = await admin.getByTestId('dialog').getAttribute('data-visitor-id');
  const state = (page) => page.getByTestId('conversation-state');
  const listed = (page) => page.locator(`[data-testid="visitor-item"][data-visitor-id="${vid}"]`);
  await waitFor(async () => (await state(admin).getAttribute('data-state')) === 'open', 'a new conversation is open');
  await view(admin, 'unassigned').click();
  await listed(admin).waitFor();

  // "Assign to me": it leaves Unassigned and shows under Mine.
  await admin.getByTestId('conversation-assign').click();
  await waitFor(async () => (await state(admin).getAttribute('data-state')) === 'assigned', 'assigned');
  assert.equal(await state(admin).innerText(), 'Assigned to you');
  await listed(admin).waitFor({ state: 'detached' });
  await view(admin, 'mine').click();
  await listed(admin).waitFor();

  // Boris sees who has it; his Mine is empty until it is handed to him, live.
  const boris = await consoleLogin(browser, server.url, { email: 'boris@example.com', password: 'boris-password' });
  await view(boris, 'mine').click();
  await boris.getByTestId('inbox-view').first().waitFor();
  await waitFor(async () => (await count(boris, 'mine')) === 0, 'Boris has nothing yet');
  await admin.getByTestId('conversation-handover').selectOption({ label: 'Boris' });
  await listed(boris).waitFor();
  assert.equal(await count(boris, 'mine'), 1);
  await listed(admin).waitFor({ state: 'detached' });
  await waitFor(async () => (await state(admin).innerText()) === 'Assigned to Boris', 'the admin reads who has it now');
  await listed(boris).click();
  assert.equal(await state(boris).innerText(), 'Assigned to you');
  await shot(boris, 'team-conversation-assigned');

  // Boris closes it: it leaves the open views and shows under Closed.
  const closedBefore = await count(boris, 'closed');
  await boris.getByTestId('conversation-close').click();
  await waitFor(async () => (await state(boris).getAttribute('data-state')) === 'closed', 'closed');
  await listed(boris).waitFor({ state: 'detached' });
  assert.equal(await count(boris, 'mine'), 0);
  assert.equal(await count(boris, 'closed'), closedBefore + 1);
  await waitFor(async () => (await state(admin).getAttribute('data-state')) === 'closed', 'the admin sees it closed');
  await view(boris, 'closed').click();
  await listed(boris).waitFor();
  await shot(boris, 'team-conversation-closed');

  // The visitor writes again: it reopens, back with Boris, in his Mine, without a reload.
  await visitor.getByTestId('widget-input').fill('Actually, one more question');
  await visitor.getByTestId('widget-send').click();
  await listed(boris).waitFor({ state: 'detached' });
  await view(boris, 'mine').click();
  await listed(boris).waitFor();
  await waitFor(async () => (await state(boris).innerText()) === 'Assigned to you', 'reopened to Boris');

  // What the server stored: a reloaded console has the same state and remembers the view.
  await boris.reload();
  await listed(boris).waitFor();
  assert.equal(await view(boris, 'mine').getAttribute('aria-selected'), 'true');
  await listed(boris).click();
  assert.equal(await state(boris).getAttribute('data-state'), 'assigned');
  // The phone layout keeps it usable: no sideways scrolling with the bar shown.
  await boris.setViewportSize({ width: 390, height: 800 });
  assert.equal(await boris.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true, 'no horizontal overflow at 390 px');
  await shot(boris, 'team-conversation-phone');
  await vctx.close();
  await admin.context().close();
  await boris.context().close();
});

test('search finds a message in any transcript, shows the words found as text, and opens the dialog at that message', { timeout: 120_000 }, async () => {
  const vctx = await browser.newContext();
  const visitor = await vctx.newPage();
  await visitor.goto(`${site.origin}/`);
  await openWidget(visitor);
  const target = 'My parcel ZX-5521 is late <b>again</b>';
  await visitor.getByTestId('widget-input').fill(target);
  await visitor.getByTestId('widget-send').click();
  const consultant = await consoleLogin(browser, server.url);
  const item = consultant.getByTestId('visitor-item').filter({ hasText: 'ZX-5521' });
  await item.waitFor();
  await item.click();
  // Enough replies after it that the message is far above the end of the dialog.
  const input = consultant.getByTestId('chat-input');
  for (let i = 1; i <= 25; i++) {
    await input.fill(`Reply number ${i}: we are checking with the courier.`);
    await input.press('Enter');
  }
  await consultant.locator('[data-testid="chat-message"]').filter({ hasText: 'Reply number 25' }).waitFor();

  await consultant.getByTestId('nav-search').click();
  const search = consultant.getByTestId('search-input');
  await search.fill('zx 5521');
  const results = consultant.getByTestId('search-result');
  await results.first().waitFor();
  assert.equal(await results.count(), 1);
  const hit = results.first();
  assert.deepEqual(await hit.locator('mark').allInnerTexts(), ['ZX', '5521'], 'the words found are marked');
  assert.match(await hit.innerText(), /<b>again<\/b>/, 'the message shows as text');
  assert.equal(await hit.locator('b').count(), 0, 'no markup from a message becomes HTML');
  await shot(consultant, 'team-search');
  // Positive control for the matching: a word that is nowhere finds nothing.
  await search.fill('parcel tractor');
  await consultant.getByTestId('search-page').locator('[role="status"]').filter({ hasText: 'No message has' }).waitFor();
  assert.equal(await results.count(), 0);
  assert.match(consultant.url(), /#\/search\/parcel%20tractor$/, 'the query is in the URL');

  await search.fill('courier 25');
  await results.first().waitFor();
  await search.fill('parcel');
  await results.filter({ hasText: 'ZX-5521' }).first().click();
  const found = consultant.locator('[data-testid="chat-message"][data-found="true"]');
  await found.waitFor();
  assert.match(await found.innerText(), /ZX-5521/);
  await waitFor(async () => {
    const [m, log] = await Promise.all([found.boundingBox(), consultant.getByTestId('chat-log').boundingBox()]);
    return m && log && m.y >= log.y && m.y + m.height <= log.y + log.height;
  }, 'the found message is scrolled into view');
  const last = await consultant.locator('[data-testid="chat-message"]').filter({ hasText: 'Reply number 25' }).boundingBox();
  const log = await consultant.getByTestId('chat-log').boundingBox();
  assert.ok(last.y > log.y + log.height, 'the end of the dialog is below, out of view: it scrolled up to the message');
  await shot(consultant, 'team-search-jump');
  await vctx.close();
  await consultant.context().close();
});

test('saved replies: added on their page, picked with / in the reply box, edited before sending; the server checks them', { timeout: 120_000 }, async () => {
  const vctx = await browser.newContext();
  const visitor = await vctx.newPage();
  await visitor.goto(`${site.origin}/`);
  await openWidget(visitor);
  await visitor.getByTestId('widget-input').fill('How long does a refund take?');
  await visitor.getByTestId('widget-send').click();
  const consultant = await consoleLogin(browser, server.url);
  await consultant.getByTestId('visitor-item').first().waitFor();

  // The page: a bad shortcut is refused by the server, with the reason; good ones are listed.
  await consultant.goto(`${server.url}/console/#/replies`);
  const form = consultant.getByTestId('canned-form');
  await form.getByTestId('canned-shortcut').fill('two words');
  await form.getByTestId('canned-body').fill('x');
  await form.getByTestId('canned-save').click();
  await consultant.getByTestId('canned-error').filter({ hasText: 'letters, digits' }).waitFor();
  await form.getByTestId('canned-shortcut').fill('refund');
  await form.getByTestId('canned-body').fill('Refunds reach your account within 5 working days.');
  await form.getByTestId('canned-save').click();
  await consultant.locator('[data-testid="canned-item"][data-shortcut="refund"]').waitFor();
  await form.getByTestId('canned-shortcut').fill('/Hours');
  await form.getByTestId('canned-body').fill('We answer from 9:00 to 18:00 on weekdays.');
  await form.getByTestId('canned-save').click();
  await consultant.locator('[data-testid="canned-item"][data-shortcut="hours"]').waitFor();
  await shot(consultant, 'team-canned-page');

  // In the reply box: "/" lists them, typing filters, Enter inserts (it does not send).
  await consultant.goto(`${server.url}/console/#/`);
  const item = consultant.getByTestId('visitor-item').filter({ hasText: 'refund take' });
  await item.click();
  const input = consultant.getByTestId('chat-input');
  const picker = consultant.getByTestId('canned-replies');
  await input.pressSequentially('/');
  await picker.waitFor();
  assert.deepEqual(await picker.getByTestId('canned-reply').evaluateAll((els) => els.map((e) => e.dataset.shortcut)), ['hours', 'refund']);
  await input.pressSequentially('ref');
  await waitFor(async () => (await picker.getByTestId('canned-reply').count()) === 1, 'filtered to /refund');
  await shot(consultant, 'team-canned-picker');
  await input.press('Enter');
  await picker.waitFor({ state: 'hidden' });
  assert.equal(await input.inputValue(), 'Refunds reach your account within 5 working days.');
  assert.equal(await consultant.locator('[data-testid="chat-message"][data-author="consultant"]').count(), 0, 'inserting did not send');
  await input.press('End');
  await input.pressSequentially(' Anything else?');
  await input.press('Enter');
  await visitor.getByTestId('widget-message').filter({ hasText: 'within 5 working days. Anything else?' }).waitFor();

  // Esc closes the list and leaves the text; a "/" inside a sentence is just text.
  await input.pressSequentially('/ho');
  await picker.waitFor();
  await input.press('Escape');
  await picker.waitFor({ state: 'hidden' });
  assert.equal(await input.inputValue(), '/ho');
  await input.fill('');
  await input.pressSequentially('and/or');
  assert.equal(await picker.isVisible(), false);
  await vctx.close();
  await consultant.context().close();
});

test('an admin limits a consultant to one site on the Team page; their open console drops the other site at once', { timeout: 120_000 }, async () => {
  cli(server.dataDir, 'user', 'add', '--email', 'carol@example.com', '--password', 'carol-password', '--name', 'Carol');
  // A visitor on the demo site and one on the team's shop, both writing.
  const vctx = await browser.newContext();
  const demoVisitor = await vctx.newPage();
  await demoVisitor.goto(`${server.url}/demo/`);
  await openWidget(demoVisitor);
  await demoVisitor.getByTestId('widget-input').fill('Question from the demo site');
  await demoVisitor.getByTestId('widget-send').click();
  const shopVisitor = await vctx.newPage();
  await shopVisitor.goto(`${site.origin}/`);
  await openWidget(shopVisitor);
  await shopVisitor.getByTestId('widget-input').fill('Question from the team shop');
  await shopVisitor.getByTestId('widget-send').click();

  const carol = await consoleLogin(browser, server.url, { email: 'carol@example.com', password: 'carol-password' });
  const demoItem = carol.getByTestId('visitor-item').filter({ hasText: 'Question from the demo site' });
  const shopItem = carol.getByTestId('visitor-item').filter({ hasText: 'Question from the team shop' });
  await demoItem.waitFor();
  await shopItem.waitFor();

  const admin = await consoleLogin(browser, server.url);
  await admin.getByTestId('nav-team').click();
  const row = admin.getByTestId('user-item').filter({ hasText: 'carol@example.com' });
  assert.equal(await row.getByTestId('user-sites-summary').innerText(), 'Every site');
  await row.getByTestId('user-sites').click();
  const form = admin.locator(`tr.row-extra[data-user-id="${await row.getAttribute('data-user-id')}"] .sites-form`);
  await form.getByTestId('user-sites-all').uncheck();
  for (const box of await form.getByTestId('user-site').all()) await box.uncheck();
  await form.locator(`[data-testid="user-site"][data-site-key="${site.key}"]`).check();
  await shot(admin, 'team-user-sites');
  await form.getByTestId('user-sites-save').click();
  await waitFor(async () => (await row.getByTestId('user-sites-summary').innerText()) === 'Team shop', 'the row says which site');

  // Carol's console reconnects by itself: the demo visitor is gone, the shop's stays.
  await demoItem.waitFor({ state: 'detached' });
  await shopItem.waitFor();
  const unreadBefore = await carol.getByTestId('total-unread').innerText();
  await demoVisitor.getByTestId('widget-input').fill('Anyone there?');
  await demoVisitor.getByTestId('widget-send').click();
  await admin.getByTestId('nav-inbox').click();
  await admin.getByTestId('visitor-item').filter({ hasText: 'Anyone there?' }).waitFor(); // the admin sees every site
  assert.equal(await carol.getByTestId('visitor-item').filter({ hasText: 'Anyone there?' }).count(), 0);
  assert.equal(await carol.getByTestId('total-unread').innerText(), unreadBefore, 'the demo visitor does not count as unread for her');
  await vctx.close();
  await admin.context().close();
  await carol.context().close();
});

test('the visitor panel says who the visitor is: browser, language, local time, where they came from and the pages of this visit, masked', { timeout: 120_000 }, async () => {
  const shop = await startSite(server.url, {
    '/landing': '<h1>Landing</h1><a id="next" href="/pricing">Pricing</a>',
    '/pricing': '<h1>Pricing</h1>',
  });
  shop.key = addSite(server.dataDir, 'Panel shop', shop.origin);
  const ref = await startSite(server.url, {
    '/': { body: `<a id="go" href="${shop.origin}/landing?email=bob@example.com&amp;page=2">to the shop</a>`, noWidget: true },
  });
  const vctx = await browser.newContext({ locale: 'de-DE', timezoneId: 'Asia/Tokyo' });
  const visitor = await vctx.newPage();
  await visitor.goto(`${ref.origin}/`);
  await visitor.click('#go');
  await visitor.waitForURL(/landing/);
  await openWidget(visitor);
  await visitor.getByTestId('widget-input').fill('Which plan fits a team of five?');
  await visitor.getByTestId('widget-send').click();
  await visitor.click('#next');
  await visitor.waitForURL(/pricing/);
  await visitor.getByTestId('widget-launcher').waitFor();

  const consultant = await consoleLogin(browser, server.url);
  const item = consultant.getByTestId('visitor-item').filter({ hasText: 'team of five' });
  await item.waitFor();
  await item.click();
  const panel = consultant.getByTestId('visitor-panel');
  await panel.getByTestId('visitor-pages').locator('li').nth(1).waitFor();
  assert.equal(await panel.getByTestId('visitor-name').innerText(), await consultant.getByTestId('dialog-visitor-name').innerText());
  assert.equal(await panel.getByTestId('visitor-language').innerText(), 'de-DE');
  assert.match(await panel.getByTestId('visitor-local-time').innerText(), /\d\d:\d\d( [AP]M)? \(Asia\/Tokyo\)/);
  assert.match(await panel.getByTestId('visitor-browser').innerText(), /Chrom\w* \d+ on Linux/);
  assert.match(await panel.getByTestId('visitor-referrer').innerText(), new RegExp(new URL(ref.origin).host.replace(/\./g, '\\.')));
  const pages = await panel.getByTestId('visitor-pages').locator('li').allInnerTexts();
  assert.equal(pages.length, 2);
  assert.match(pages[0], /\/landing/);
  assert.match(pages[1], /\/pricing/);
  assert.equal(await panel.getByTestId('visitor-visits').innerText(), '1');
  // The address in the landing URL was masked in the visitor's browser: nowhere in the panel or its API answer.
  const html = await panel.innerHTML();
  assert.ok(!html.includes('bob@example.com') && !html.includes('bob%40example.com'), 'the masked parameter did not arrive');
  assert.match(html, /landing\?/, 'the URL with its masked query did (positive control)');
  await shot(consultant, 'team-visitor-panel');
  // Narrower screens keep it behind a Details button.
  await consultant.setViewportSize({ width: 900, height: 800 });
  assert.equal(await panel.isVisible(), false);
  await consultant.getByTestId('visitor-panel-toggle').click();
  await panel.waitFor();
  await vctx.close();
  await consultant.context().close();
  await shop.close();
  await ref.close();
});

/** The page's form fields that the widget covers (checked at their corners and centre). */
function coveredFields(page) {
  return page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('input, textarea, select, button')) {
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height || r.bottom < 0 || r.top > innerHeight) continue;
      const points = [[r.left + 2, r.top + 2], [r.right - 2, r.bottom - 2], [r.left + r.width / 2, r.top + r.height / 2]];
      if (points.some(([x, y]) => document.elementFromPoint(x, y)?.closest('[data-testid="chatcast-widget"]'))) out.push(el.id || el.name || el.type);
    }
    return out;
  });
}

test('the open widget keeps clear of the page\'s form fields on a desktop, and the visitor can move it', { timeout: 90_000 }, async () => {
  for (const viewport of [{ width: 1280, height: 800 }, { width: 1024, height: 700 }]) {
    const ctx = await browser.newContext({ viewport });
    const page = await ctx.newPage();
    await page.goto(`${server.url}/demo/login.html`);
    await openWidget(page);
    await page.waitForTimeout(300); // the opening animation
    assert.deepEqual(await coveredFields(page), [], `nothing covered at ${viewport.width} px`);
    assert.ok(await page.getByTestId('widget-input').isVisible(), 'the chat is open (positive control)');
    await page.getByTestId('widget-input').fill('typed while the form is free');
    await page.fill('#email', 'me@example.com'); // the page's field takes input: it is not under the widget
    await shot(page, `widget-dodge-${viewport.width}`);
    // Moved by hand to the other side, it covers the form: the check above can see that.
    await page.getByTestId('widget-move').click();
    await page.waitForTimeout(100);
    assert.ok((await coveredFields(page)).length > 0, 'the checker finds a covered field when there is one');
    // The choice holds for the tab, across a page load.
    await page.reload();
    await page.getByTestId('widget-input').waitFor();
    assert.ok((await coveredFields(page)).length > 0, 'the side the visitor chose is kept');
    await ctx.close();
  }
});

test('on a phone the "being viewed" pill does not hide the first message', { timeout: 90_000 }, async () => {
  const vctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const visitor = await vctx.newPage();
  await visitor.goto(`${site.origin}/`);
  await openWidget(visitor);
  await visitor.getByTestId('widget-input').fill('First message, seen on a phone');
  await visitor.getByTestId('widget-send').click();
  const consultant = await consoleLogin(browser, server.url);
  const item = consultant.getByTestId('visitor-item').filter({ hasText: 'seen on a phone' });
  await item.waitFor();
  await item.click();
  await grant(consultant, visitor, ['h1', 'Shop']);
  const pill = visitor.getByTestId('viewing-indicator');
  await pill.waitFor();
  const first = visitor.getByTestId('widget-message').first();
  await first.scrollIntoViewIfNeeded();
  // Scrolled to the very top of the transcript, the first message is below the pill.
  await visitor.getByTestId('widget-message').first().evaluate((el) => el.closest('.log').scrollTo(0, 0));
  const [p, m] = [await pill.boundingBox(), await first.boundingBox()];
  assert.ok(p && m, 'both shown (positive control)');
  assert.ok(m.y >= p.y + p.height || m.y + m.height <= p.y, `the pill (${p.y}–${p.y + p.height}) and the first message (${m.y}–${m.y + m.height}) do not overlap`);
  await shot(visitor, 'widget-phone-pill');
  await vctx.close();
  await consultant.context().close();
});

test('identify: a visitor the site signed shows as verified, an unsigned or forged claim as unverified', { timeout: 120_000 }, async () => {
  const { createHmac } = await import('node:crypto');
  const admin = await consoleLogin(browser, server.url);
  await admin.getByTestId('nav-sites').click();
  const card = admin.locator(`[data-testid="site-item"][data-site-key="${site.key}"]`);
  await card.getByTestId('site-identity-secret').click();
  const secret = (await card.getByTestId('site-identity-secret-value').innerText()).trim();
  assert.match(secret, /^[\w-]{20,}$/);
  assert.equal(cli(server.dataDir, 'site', 'secret', '--key', site.key).trim(), secret, 'the CLI prints the same secret');
  const sign = (id) => createHmac('sha256', secret).update(id).digest('hex');

  const ctx = await browser.newContext();
  const say = async (who, text) => {
    const page = await ctx.newPage();
    await page.goto(`${site.origin}/`);
    await page.waitForFunction(() => window.Chatcast?.identify);
    await page.evaluate((w) => window.Chatcast.identify(w), who);
    await openWidget(page);
    await page.getByTestId('widget-input').fill(text);
    await page.getByTestId('widget-send').click();
    return page;
  };
  await say({ id: 'user-42', name: 'Anna Schmidt', email: 'anna@example.com', signature: sign('user-42') }, 'Signed in as Anna');
  const ctx2 = await browser.newContext();
  const forger = await ctx2.newPage();
  await forger.goto(`${site.origin}/`);
  await forger.waitForFunction(() => window.Chatcast?.identify);
  // Anna's id with a signature made for another id: a page cannot pass as her.
  await forger.evaluate((sig) => window.Chatcast.identify({ id: 'user-42', name: 'Anna Schmidt', signature: sig }), sign('user-7'));
  await openWidget(forger);
  await forger.getByTestId('widget-input').fill('I am Anna, honest');
  await forger.getByTestId('widget-send').click();

  const check = async (text, verified) => {
    const item = admin.getByTestId('visitor-item').filter({ hasText: text });
    await item.click();
    const who = admin.getByTestId('visitor-panel').getByTestId('visitor-identity');
    await who.waitFor();
    assert.equal(await who.getAttribute('data-verified'), String(verified), text);
    assert.match(await who.innerText(), /Anna Schmidt/);
    assert.equal(await who.locator('.vp-tag').innerText(), verified ? 'verified' : 'unverified');
  };
  await admin.getByTestId('nav-inbox').click();
  await check('Signed in as Anna', true);
  await shot(admin, 'team-identify-verified');
  await check('I am Anna, honest', false);
  await ctx.close();
  await ctx2.close();
  await admin.context().close();
});

test('emoji: the reply box\'s button puts one at the caret, and it reaches the visitor', { timeout: 90_000 }, async () => {
  const { visitor, consultant } = await dialogOpen('Can I pay by card?');
  const input = consultant.getByTestId('chat-input');
  await input.fill('Yes, of course!');
  await input.press('End');
  await consultant.getByTestId('emoji-button').click();
  const grid = consultant.getByTestId('emoji-picker');
  await grid.waitFor();
  await grid.locator('[data-emoji="💳"]').click();
  await grid.waitFor({ state: 'hidden' });
  assert.equal(await input.inputValue(), 'Yes, of course!💳');
  await input.press('Enter');
  await visitor.getByTestId('widget-message').filter({ hasText: 'Yes, of course!💳' }).waitFor();
  await visitor.context().close();
  await consultant.context().close();
});
