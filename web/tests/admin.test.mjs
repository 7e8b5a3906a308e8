// Admin pages: a site's screen broadcast privacy settings, the audit trail, the
// team (disable, enable, role, password, remove), and a user's own sessions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launchBrowser, consoleLogin, removeDir } from './harness.mjs';

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

/** A console of its own (a second browser), logged in as `who`, with its inbox open. */
async function consoleAs(who) {
  const page = await consoleLogin(browser, server.url, who);
  await page.getByTestId('connection-state').and(page.locator('[data-state="open"]')).waitFor({ timeout: 10_000 });
  return page;
}

/** The login form shows again (the session ended), within `ms`. */
async function loggedOut(page, ms = 3000) {
  const t = Date.now();
  await page.getByTestId('login-email').waitFor({ timeout: ms });
  return Date.now() - t;
}

test('the Team page disables, enables, re-roles and removes a consultant, ending their sessions at once', { timeout: 90_000 }, async () => {
  const admin = await consoleLogin(browser, server.url);
  await admin.goto(`${server.url}/console/#/admin/team`);
  const dana = { email: 'dana@example.com', password: 'dana-password-1' };
  await admin.getByTestId('user-email').fill(dana.email);
  await admin.getByTestId('user-name').fill('Dana');
  await admin.getByTestId('user-password').fill(dana.password);
  await admin.getByTestId('user-submit').click();
  const row = admin.getByTestId('user-item').filter({ hasText: dana.email });
  await row.waitFor();

  // Disable: her open console is logged out within 3 s, and she cannot log in again.
  let consultant = await consoleAs(dana);
  await row.getByTestId('user-disable').click();
  await row.and(admin.locator('[data-disabled="true"]')).waitFor();
  await loggedOut(consultant);
  await consultant.getByTestId('login-email').fill(dana.email);
  await consultant.getByTestId('login-password').fill(dana.password);
  await consultant.getByTestId('login-submit').click();
  await consultant.getByTestId('login-error').filter({ hasText: 'disabled' }).waitFor();
  await consultant.context().close();

  // Enable: she can log in again (the positive control).
  await row.getByTestId('user-disable').click();
  await row.and(admin.locator('[data-disabled="false"]')).waitFor();
  consultant = await consoleAs(dana);

  // A new role or password logs her out too.
  await row.getByTestId('user-role-select').selectOption('admin');
  await loggedOut(consultant);
  await consultant.context().close();
  await row.getByTestId('user-role-select').selectOption('consultant');
  consultant = await consoleAs(dana);
  // The password form opens in the row below hers.
  const pwForm = admin.locator('tr.row-extra:not([hidden])');
  await row.getByTestId('user-password-set').click();
  await pwForm.getByTestId('user-new-password').fill('short');
  await pwForm.getByTestId('user-password-save').click();
  await admin.getByTestId('team-error').filter({ hasText: '8' }).waitFor();
  await row.getByTestId('user-password-set').click();
  await pwForm.getByTestId('user-new-password').fill('dana-password-2');
  await pwForm.getByTestId('user-password-save').click();
  await loggedOut(consultant);
  await consultant.context().close();

  // The last admin cannot disable themselves: the server says why.
  const me = admin.getByTestId('user-item').filter({ hasText: 'admin@example.com' });
  await me.getByTestId('user-disable').click();
  await admin.getByTestId('team-error').filter({ hasText: 'last' }).waitFor();
  assert.equal(await me.getAttribute('data-disabled'), 'false');

  // Remove, after a confirmation in place; Keep cancels it.
  await row.getByTestId('user-remove').click();
  await row.getByTestId('user-remove-cancel').click();
  assert.equal(await row.count(), 1);
  consultant = await consoleAs({ email: dana.email, password: 'dana-password-2' });
  await row.getByTestId('user-remove').click();
  await row.getByTestId('user-remove-confirm').click();
  await row.waitFor({ state: 'detached' });
  await loggedOut(consultant);
  await admin.screenshot({ path: join(tmpdir(), 'chatcast-team.png') });
  await consultant.context().close();
  await admin.context().close();
});

test('a user sees where they are logged in and signs out another browser', { timeout: 60_000 }, async () => {
  const first = await consoleAs(undefined);
  const second = await consoleAs(undefined);
  await first.goto(`${server.url}/console/#/account`);
  const rows = first.getByTestId('session-row');
  await rows.nth(1).waitFor();
  const current = first.locator('[data-testid="session-row"][data-current="true"]');
  assert.equal(await current.count(), 1, 'this browser is marked');
  assert.equal(await current.getByTestId('session-revoke').count(), 0, 'this browser logs out with Log out');
  const before = await rows.count();
  await first.locator('[data-testid="session-row"][data-current="false"]').first().getByTestId('session-revoke').click();
  const ms = await loggedOut(second);
  await rows.nth(before - 2).waitFor();
  assert.equal(await rows.count(), before - 1);
  // This browser is still logged in.
  await first.reload();
  await first.getByTestId('account-page').waitFor();
  assert.ok(ms < 3000);
  await first.screenshot({ path: join(tmpdir(), 'chatcast-account.png') });
  await first.context().close();
  await second.context().close();
});
