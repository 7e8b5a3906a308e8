// Nobody online, and each site's own widget: the widget says when nobody can
// answer and takes an email address; the consultant's later answer reaches
// that address through a real SMTP conversation (a sink this test starts).
// A site's greeting, colour, corner, language and pre-chat form, set in the
// console, are what its visitors get.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, startSite, addSite, launchBrowser, consoleLogin, removeDir, shot, startSmtpSink, waitFor, pressScreencast, viewHost, replicaText,
} from './harness.mjs';

let server, shop, other, browser, smtp;

before(async () => {
  smtp = await startSmtpSink();
  server = await startServer({
    env: { CHATCAST_SMTP_URL: smtp.url, CHATCAST_MAIL_FROM: 'Shop support <help@shop.example>', CHATCAST_EMAIL_AFTER_SECS: '1' },
  });
  shop = await startSite(server.url, { '/': '<h1>Shop</h1><p>Shoes and boots.</p>' });
  shop.key = addSite(server.dataDir, 'Offline shop', shop.origin);
  other = await startSite(server.url, { '/': '<h1>Магазин</h1><p>Обувь.</p>' });
  other.key = addSite(server.dataDir, 'Russian shop', other.origin);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await shop?.close();
  await other?.close();
  await server?.stop();
  await smtp?.close();
  removeDir(server.dataDir);
});

/** A visitor's page; `page.asked` lists the widget server's URLs it requested. */
const visitorPage = async (origin, viewport = { width: 1100, height: 760 }) => {
  const page = await (await browser.newContext({ viewport })).newPage();
  page.asked = [];
  page.on('request', (r) => r.url().startsWith(server.url) && page.asked.push(new URL(r.url()).pathname));
  await page.goto(`${origin}/`);
  return page;
};

test('nobody online: the widget asks for an email, and the answer written later arrives there', { timeout: 90_000 }, async () => {
  const visitor = await visitorPage(shop.origin);
  await visitor.getByTestId('widget-launcher').click();
  const away = visitor.getByTestId('widget-offline');
  await away.waitFor();
  assert.match(await away.innerText(), /Nobody can answer right now/);
  assert.equal(await visitor.getByTestId('widget-status').innerText(), 'Nobody is online right now');

  // A mistyped address is caught before anything is sent; the message waits in the box.
  const email = visitor.getByTestId('widget-offline-email');
  await email.fill('jane@shop');
  await visitor.getByTestId('widget-input').fill('Do you ship boots to Berlin?');
  await visitor.getByTestId('widget-send').click();
  await visitor.getByTestId('widget-error').filter({ hasText: 'check the email address' }).waitFor();
  assert.equal(await visitor.getByTestId('widget-message').count(), 0, 'not sent with a bad address');

  await email.fill('jane@shop.example');
  await visitor.getByTestId('widget-send').click();
  await visitor.locator('[data-testid="widget-message"][data-author="visitor"][data-state="sent"]').waitFor();
  const note = visitor.getByTestId('widget-offline-note');
  await note.waitFor();
  assert.equal(await note.innerText(), 'We will answer at jane@shop.example.');
  assert.equal(await email.isVisible(), false, 'not asked again');
  await shot(visitor, 'offline-widget');
  await visitor.context().close(); // Jane leaves

  // A consultant comes later: the conversation waited, with where the answer goes.
  const consultant = await consoleLogin(browser, server.url);
  // Jane is gone: her conversation waits among the recent ones.
  const item = consultant.getByTestId('recent-item').filter({ hasText: 'Do you ship boots to Berlin?' });
  await item.click();
  const contact = consultant.getByTestId('visitor-contact');
  await contact.waitFor();
  assert.match(await contact.innerText(), /jane@shop\.example/);
  const from = smtp.mails.length;
  await consultant.getByTestId('chat-input').fill('Yes, in 2 days, free over 50 EUR.');
  await consultant.getByTestId('chat-send').click();

  const mail = await smtp.next((m) => m.to.includes('jane@shop.example'), 15_000, from);
  assert.match(mail.data, /Subject: Your conversation with Offline shop/);
  assert.match(mail.data, /Yes, in 2 days, free over 50 EUR\./);
  assert.match(mail.data, /^From: "Shop support" <help@shop\.example>/m);
  await consultant.locator('[data-testid="chat-message"][data-author="system"]').filter({ hasText: 'Emailed the answer to jane@shop.example' }).waitFor();
  await shot(consultant, 'offline-console-emailed');

  // With the consultant online, a new visitor is not asked for an address (the control).
  const second = await visitorPage(shop.origin);
  await second.getByTestId('widget-launcher').click();
  await second.getByTestId('widget-input').waitFor();
  await waitFor(async () => (await second.getByTestId('widget-status').innerText()) === 'We reply within minutes', 'status online');
  assert.equal(await second.getByTestId('widget-offline').isVisible(), false);
  await second.context().close();
  await consultant.context().close();
});

test('a site\'s widget settings: greeting, colour, corner, Russian words and a pre-chat form', { timeout: 90_000 }, async () => {
  const admin = await consoleLogin(browser, server.url);
  await admin.getByTestId('nav-sites').click();
  const card = admin.locator(`[data-testid="site-item"][data-site-key="${other.key}"]`);
  const form = card.getByTestId('widget-settings');
  await form.getByTestId('widget-greeting').fill('Привет! Спросите нас о размерах.');
  await form.getByTestId('widget-color-custom').check();
  await form.getByTestId('widget-color').fill('#0a7d4f');
  await form.getByTestId('widget-position').selectOption('left');
  await form.getByTestId('widget-language').selectOption('ru');
  await form.getByTestId('widget-prechat').check();
  await form.getByTestId('widget-settings-save').click();
  await form.getByTestId('widget-settings-status').filter({ hasText: 'Saved' }).waitFor();
  await shot(admin, 'widget-settings-form');

  const visitor = await visitorPage(other.origin);
  const launcher = visitor.getByTestId('widget-launcher');
  // A first page: the widget shows once it knows the site's look, never in the defaults first.
  await launcher.waitFor();
  assert.ok((await launcher.boundingBox()).x < 100, 'in the bottom left corner from its first moment');
  // (After its colour transition.)
  await waitFor(async () => (await launcher.evaluate((b) => getComputedStyle(b).backgroundColor)) === 'rgb(10, 125, 79)', 'the site\'s colour');
  await launcher.click();
  const prechat = visitor.getByTestId('prechat-form');
  await prechat.waitFor();
  assert.match(await visitor.locator('#chatcast-title').innerText(), /Напишите нам/);
  assert.match(await visitor.getByTestId('widget-panel').innerText(), /Привет! Спросите нас о размерах\./);
  assert.equal(await visitor.getByTestId('widget-input').isVisible(), false, 'no message before the form');

  // The form checks what it needs, in the site's language.
  await visitor.getByTestId('prechat-submit').click();
  assert.equal(await visitor.getByTestId('prechat-error').innerText(), 'Пожалуйста, введите имя.');
  await visitor.getByTestId('prechat-name').fill('Ольга');
  await visitor.getByTestId('prechat-email').fill('olga@');
  await visitor.getByTestId('prechat-submit').click();
  assert.match(await visitor.getByTestId('prechat-error').innerText(), /Проверьте адрес/);
  await visitor.getByTestId('prechat-email').fill('olga@shop.example');
  await shot(visitor, 'widget-prechat-ru');
  await visitor.getByTestId('prechat-submit').click();
  await prechat.waitFor({ state: 'hidden' });
  await visitor.getByTestId('widget-input').fill('Есть ли 38 размер?');
  await visitor.getByTestId('widget-send').click();
  await visitor.locator('[data-testid="widget-message"][data-author="visitor"]').filter({ hasText: 'Есть ли 38 размер?' }).waitFor();

  // The consultant sees who wrote; the next page starts in Russian and asks no more.
  const item = admin.getByTestId('visitor-item').filter({ hasText: 'Есть ли 38 размер?' });
  await admin.goto(`${server.url}/console/#/`);
  await item.click();
  const contact = admin.getByTestId('visitor-contact');
  await contact.waitFor();
  assert.match(await contact.innerText(), /Ольга · olga@shop\.example/);
  await visitor.reload(); // the panel stays open across pages
  await visitor.getByTestId('widget-input').waitFor();
  assert.equal(await visitor.getByTestId('prechat-form').isVisible(), false);
  // In Russian from the first moment (connecting), then online.
  await waitFor(async () => /Отвечаем за пару минут/.test(await visitor.getByTestId('widget-status').innerText()), 'the Russian status once connected');
  await shot(visitor, 'widget-ru-after');
  assert.ok(visitor.asked.includes('/lang/ru.js'), `the Russian words came as their own script: ${visitor.asked}`);

  // A broadcast on the Russian site: the question, the system lines and the receipt in Russian;
  // the console keeps the English wording the server stores.
  await pressScreencast(admin);
  await visitor.getByTestId('consent-block').waitFor();
  assert.match(await visitor.getByTestId('consent-block').innerText(), /просит показать эту вкладку/);
  assert.equal(await visitor.getByTestId('consent-yes').innerText(), 'Да');
  await visitor.getByTestId('consent-yes').click();
  const host = await viewHost(admin);
  await replicaText(host, 'h1', 'Магазин');
  await visitor.locator('[data-testid="widget-message"][data-author="system"]').filter({ hasText: 'Вы разрешили показ этой вкладки' }).waitFor();
  await host.getByTestId('screencast-stop').click();
  const receipt = visitor.getByTestId('broadcast-receipt');
  await receipt.waitFor({ timeout: 10_000 });
  assert.match(await receipt.innerText(),
    /^Итог показа экрана: эту вкладку смотрели \d+ с \([^)]+\), страница \/\. Осталось скрытым: 0 полей и 0 областей\.$/);
  await admin.locator('[data-testid="chat-message"][data-author="system"]').filter({ hasText: /^Receipt of the screen broadcast: .+ saw this tab for \d+ s, on \/\./ }).first().waitFor();
  await shot(visitor, 'widget-ru-receipt');

  // The other site keeps its defaults (the control): English, right, no form.
  const en = await visitorPage(shop.origin);
  await en.getByTestId('widget-launcher').click();
  await en.getByTestId('widget-input').waitFor();
  assert.equal(await en.locator('#chatcast-title').innerText(), 'Chat with us');
  assert.ok((await en.getByTestId('widget-launcher').boundingBox()).x > 900, 'bottom right');
  assert.ok(!en.asked.some((p) => p.startsWith('/lang/')), `an English site loads no language pack: ${en.asked}`);
  await en.context().close();
  await visitor.context().close();
  await admin.context().close();
});
