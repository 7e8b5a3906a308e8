// Admin pages: a site's screen broadcast privacy settings, the audit trail, the
// team (disable, enable, role, password, remove), and a user's own sessions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, consoleLogin, removeDir, ADMIN } from './harness.mjs';

let server, browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  removeDir(server.dataDir);
});

test('privacy settings are saved per site and come back after a reload', { timeout: 60_000 }, async () => {
  const page = await consoleLogin(browser, server.url);
  await page.goto(`${server.url}/console/#/admin/sites`);
  const card = page.getByTestId('site-item').first();
  await card.getByTestId('privacy-mask-all').check();
  await card.getByTestId('privacy-block').fill('.account-balance\n#orders');
  await card.getByTestId('privacy-block').press('Tab');
  await card.getByTestId('privacy-keep-params').fill('page\nutm_source');
  await card.getByTestId('privacy-save').click();
  await card.getByTestId('privacy-status').filter({ hasText: 'Saved' }).waitFor();

  // A URL parameter name with a space in it is refused by the server, which says why.
  await card.getByTestId('privacy-keep-params').fill('page\nsession id');
  await card.getByTestId('privacy-save').click();
  await card.getByTestId('privacy-status').filter({ hasText: 'not a URL parameter name' }).waitFor();
  await card.getByTestId('privacy-keep-params').fill('page\nutm_source');

  // An invalid selector is caught before anything is sent.
  await card.getByTestId('privacy-mask').fill('p[');
  await card.getByTestId('privacy-save').click();
  await card.getByTestId('privacy-status').filter({ hasText: 'Not a CSS selector' }).waitFor();

  await page.reload();
  const again = page.getByTestId('site-item').first();
  await again.getByTestId('privacy-block').waitFor();
  assert.equal(await again.getByTestId('privacy-mask-all').isChecked(), true);
  assert.equal(await again.getByTestId('privacy-block').inputValue(), '.account-balance\n#orders');
  assert.equal(await again.getByTestId('privacy-keep-params').inputValue(), 'page\nutm_source');
  await page.context().close();
});

test('a declined request shows in the audit trail', { timeout: 60_000 }, async () => {
  const vctx = await browser.newContext();
  const visitor = await vctx.newPage();
  await visitor.goto(`${server.url}/demo/`);
  await visitor.getByTestId('widget-launcher').waitFor();
  const consultant = await consoleLogin(browser, server.url);
  await consultant.getByTestId('visitor-item').first().click();
  await consultant.getByTestId('screencast-button').click();
  await visitor.getByTestId('consent-no').click();
  await consultant.getByTestId('screencast-notice').waitFor();
  await consultant.goto(`${server.url}/console/#/admin/audit`);
  await consultant.locator('[data-testid="audit-row"][data-event="denied"]').waitFor();
  await consultant.locator('[data-testid="audit-row"][data-event="requested"]').waitFor();
  await vctx.close();
  await consultant.context().close();
});

/** The console socket of each page opened by consoleAs. */
const sockets = new WeakMap();

/**
 * A console of its own (a second browser), logged in as `who` (the admin
 * unless given), with its inbox open and its socket connected.
 */
async function consoleAs(who = ADMIN) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  // Watched from before the login, so the console's socket cannot be missed.
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/ws/console')) return;
    const closed = new Promise((resolve) => ws.on('close', () => resolve(Date.now())));
    sockets.set(page, { ws, closed });
  });
  await page.goto(`${server.url}/console/`);
  await page.getByTestId('login-email').fill(who.email);
  await page.getByTestId('login-password').fill(who.password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('connection-state').and(page.locator('[data-state="open"]')).waitFor({ timeout: 10_000 });
  assert.ok(sockets.get(page) && !sockets.get(page).ws.isClosed(), 'the console socket is open');
  return page;
}

/** The console shows its login form again and its socket is closed, both within `ms` of now. */
async function loggedOut(page, ms = 3000) {
  const t = Date.now();
  await page.getByTestId('login-email').waitFor({ timeout: ms });
  const closedAt = await Promise.race([sockets.get(page).closed, new Promise((r) => setTimeout(() => r(null), Math.max(0, t + ms - Date.now())))]);
  assert.ok(closedAt, `the console socket closed within ${ms} ms`);
  return Math.max(Date.now(), closedAt) - t;
}

/** Logs in with the API (no console): the status of POST /api/login. */
async function loginStatus(page, who) {
  return page.evaluate(async ({ email, password }) => {
    const res = await fetch('/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }) });
    return res.status;
  }, who);
}

test('the Team page disables, enables, re-roles and removes a consultant, ending their sessions at once', { timeout: 60_000 }, async () => {
  const admin = await consoleAs();
  await admin.getByTestId('nav-team').click();
  await admin.getByTestId('team-page').waitFor();
  const dana = { email: 'dana@example.com', password: 'dana-password-1' };
  await admin.getByTestId('user-email').fill(dana.email);
  await admin.getByTestId('user-name').fill('Dana');
  await admin.getByTestId('user-password').fill(dana.password);
  await admin.getByTestId('user-submit').click();
  const row = admin.getByTestId('user-item').filter({ hasText: dana.email });
  await row.waitFor();
  assert.equal(await row.getAttribute('data-disabled'), 'false');
  assert.equal(await row.getByTestId('user-disable').getAttribute('data-state'), 'active');

  // Positive control: she can log in and her console connects.
  let consultant = await consoleAs(dana);

  // Disable: her open console is logged out and its socket closed within 3 s; she cannot log in again.
  await row.getByTestId('user-disable').click();
  await row.and(admin.locator('[data-disabled="true"]')).waitFor();
  await loggedOut(consultant);
  assert.equal(await row.getByTestId('user-disable').getAttribute('data-state'), 'disabled');
  assert.equal(await row.getByTestId('user-disable').textContent(), 'Enable');
  await row.getByTestId('user-disabled-tag').waitFor();
  await admin.screenshot({ path: '/tmp/team.png' });
  await consultant.getByTestId('login-email').fill(dana.email);
  await consultant.getByTestId('login-password').fill(dana.password);
  await consultant.getByTestId('login-submit').click();
  await consultant.getByTestId('login-error').filter({ hasText: 'disabled' }).waitFor();
  assert.equal(await consultant.getByTestId('connection-state').count(), 0, 'no console for a disabled account');
  await consultant.context().close();

  // Enable: she can log in again.
  await row.getByTestId('user-disable').click();
  await row.and(admin.locator('[data-disabled="false"]')).waitFor();
  assert.equal(await row.getByTestId('user-disabled-tag').count(), 0);
  consultant = await consoleAs(dana);

  // A new role or password logs her out too.
  await row.getByTestId('user-role-select').selectOption('admin');
  await loggedOut(consultant);
  await consultant.context().close();
  await row.getByTestId('user-role-select').selectOption('consultant');
  await row.getByTestId('user-role-select').and(admin.locator(':enabled')).waitFor();
  consultant = await consoleAs(dana);
  // The password form opens in the row below hers (no browser prompt).
  admin.on('dialog', (d) => assert.fail(`unexpected ${d.type()} dialog: ${d.message()}`));
  const pwForm = admin.locator('tr.row-extra:not([hidden])');
  await row.getByTestId('user-password-set').click();
  await pwForm.getByTestId('user-new-password').fill('short');
  await pwForm.getByTestId('user-password-save').click();
  await admin.getByTestId('team-error').filter({ hasText: '8' }).waitFor();
  // Refused: the form stays open for another try, and she is still logged in.
  assert.equal(await pwForm.count(), 1);
  assert.equal(await consultant.getByTestId('connection-state').getAttribute('data-state'), 'open');
  await pwForm.getByTestId('user-new-password').fill('dana-password-2');
  await pwForm.getByTestId('user-password-save').click();
  await loggedOut(consultant);
  assert.equal(await loginStatus(consultant, dana), 401, 'the old password no longer works');
  await consultant.context().close();

  // The last admin cannot disable themselves: the server says why, in words.
  const me = admin.getByTestId('user-item').filter({ hasText: 'admin@example.com' });
  await me.getByTestId('user-disable').click();
  const refusal = admin.getByTestId('team-error').filter({ hasText: 'last enabled admin' });
  await refusal.waitFor();
  assert.doesNotMatch(await refusal.textContent(), /[{}]/, 'a sentence, not JSON');
  assert.equal(await me.getAttribute('data-disabled'), 'false');
  assert.equal(await admin.getByTestId('connection-state').getAttribute('data-state'), 'open', 'the admin is still logged in');
  await admin.screenshot({ path: '/tmp/team-refused.png' });

  // Remove, after a confirmation in place; Keep cancels it.
  await row.getByTestId('user-remove').click();
  await row.getByTestId('user-remove-cancel').click();
  assert.equal(await row.count(), 1);
  consultant = await consoleAs({ email: dana.email, password: 'dana-password-2' });
  await row.getByTestId('user-remove').click();
  await row.getByTestId('user-remove-confirm').click();
  await row.waitFor({ state: 'detached' });
  await loggedOut(consultant);
  assert.equal(await loginStatus(consultant, { email: dana.email, password: 'dana-password-2' }), 401, 'a removed account cannot log in');
  await consultant.context().close();
  await admin.context().close();
});

test('a user sees their sessions and signs out another browser, which is logged out at once', { timeout: 60_000 }, async () => {
  // A consultant (not an admin): "Your sessions" is for everyone.
  const admin = await consoleAs();
  const erin = { email: 'erin@example.com', password: 'erin-password-1' };
  const added = await admin.evaluate(async (u) => (await fetch('/api/users', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...u, role: 'consultant', name: 'Erin' }),
  })).status, erin);
  assert.ok(added < 300, `user added (${added})`);
  await admin.context().close();

  const first = await consoleAs(erin);
  const second = await consoleAs(erin);
  await first.getByTestId('me').click();
  await first.getByTestId('account-page').waitFor();
  const rows = first.getByTestId('session-row');
  await rows.nth(1).waitFor();
  assert.equal(await rows.count(), 2, 'both browsers are listed');
  const current = first.locator('[data-testid="session-row"][data-current="true"]');
  assert.equal(await current.count(), 1, 'this browser is marked');
  assert.match(await current.textContent(), /this browser/);
  assert.match(await rows.first().textContent(), /Chrome on Linux/);
  assert.match(await rows.first().textContent(), /127\.0\.0\.1/);
  assert.equal(await current.getByTestId('session-revoke').count(), 0, 'this browser logs out with Log out');
  await first.screenshot({ path: '/tmp/sessions.png' });

  await first.locator('[data-testid="session-row"][data-current="false"]').getByTestId('session-revoke').click();
  const ms = await loggedOut(second);
  assert.ok(ms < 3000, `logged out in ${ms} ms`);
  await rows.nth(1).waitFor({ state: 'detached' });
  assert.equal(await rows.count(), 1);

  // This browser keeps working: its socket is open and the API answers, also after a reload.
  assert.equal(sockets.get(first).ws.isClosed(), false);
  assert.equal(await first.getByTestId('connection-state').getAttribute('data-state'), 'open');
  assert.equal(await first.evaluate(async () => (await fetch('/api/me')).status), 200);
  await first.reload();
  await first.getByTestId('account-page').waitFor();
  await first.getByTestId('connection-state').and(first.locator('[data-state="open"]')).waitFor();
  assert.equal(await first.getByTestId('login-email').count(), 0);
  // The signed-out one really is out: a reload shows the login form.
  await second.reload();
  await second.getByTestId('login-email').waitFor();
  await first.context().close();
  await second.context().close();
});
