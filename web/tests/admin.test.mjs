// Admin pages: a site's screen broadcast privacy settings, and the audit trail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
