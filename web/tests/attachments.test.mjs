// Files and images both ways, driven through the UI: the visitor sends a
// photo from the widget on the shop's own origin, the consultant answers
// with a PDF and text; each side sees the other's file. A file that is not
// allowed is refused with the server's reason, and nothing is sent.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { startServer, startSite, addSite, launchBrowser, consoleLogin, openWidget, removeDir, shot } from './harness.mjs';

let server, site, browser;

/** A real w×h PNG, one colour (its CRCs computed here: a browser decodes it). */
function png(w, h, [r, g, b]) {
  const crc = (buf) => {
    let c = ~0;
    for (const byte of buf) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return ~c >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => [r, g, b]).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}
const PNG = png(160, 100, [200, 40, 40]);

before(async () => {
  server = await startServer();
  site = await startSite(server.url, { '/': '<h1>Shop</h1><p>Shoes and boots.</p>' });
  site.key = addSite(server.dataDir, 'File shop', site.origin);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
  removeDir(server.dataDir);
});

/** Picks `file` in the chooser that clicking `button` opens. */
async function choose(page, button, file) {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), button.click()]);
  await chooser.setFiles(file);
}

test('a photo from the visitor and a PDF from the consultant reach the other side', { timeout: 90_000 }, async () => {
  const visitor = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
  await visitor.goto(`${site.origin}/`);
  await openWidget(visitor);
  await visitor.getByTestId('widget-input').fill('Is this boot in stock?');
  await visitor.getByTestId('widget-send').click();

  // Refused first: a web page dressed as a picture never leaves as one.
  await choose(visitor, visitor.getByTestId('widget-attach'), { name: 'boot.png', mimeType: 'image/png', buffer: Buffer.from('<script>alert(1)</script>') });
  const error = visitor.getByTestId('widget-error');
  await error.filter({ hasText: 'only images' }).waitFor();

  await choose(visitor, visitor.getByTestId('widget-attach'), { name: 'boot.png', mimeType: 'image/png', buffer: PNG });
  const mine = visitor.locator('[data-testid="widget-message"][data-author="visitor"][data-state="sent"] [data-testid="widget-attachment"]');
  await mine.waitFor();
  assert.equal(await mine.getAttribute('data-type'), 'image');
  await visitor.waitForFunction(() => {
    const host = document.querySelector('[data-testid="chatcast-widget"]');
    const img = host?.shadowRoot?.querySelector('[data-testid="widget-attachment"] img');
    return img instanceof HTMLImageElement && img.complete && img.naturalWidth === 160;
  }, null, { timeout: 10_000 });

  const consultant = await consoleLogin(browser, server.url);
  await consultant.getByTestId('visitor-item').filter({ hasText: 'File shop' }).first().click();
  const theirs = consultant.locator('[data-testid="chat-message"][data-author="visitor"] [data-testid="chat-attachment"]');
  await theirs.waitFor();
  // The console shows the picture itself (the server serves it as an image it may show).
  await consultant.waitForFunction(() => {
    const img = document.querySelector('[data-testid="chat-attachment"] img');
    return img instanceof HTMLImageElement && img.complete && img.naturalWidth === 160;
  }, null, { timeout: 10_000 });
  assert.equal(await consultant.locator('[data-testid="chat-message"][data-author="visitor"]').count(), 1 + 1, 'the text and the photo; not the refused file');

  // The consultant answers with a PDF and a line of text, in one message.
  await consultant.getByTestId('chat-input').fill('Here is the size chart.');
  await choose(consultant, consultant.getByTestId('attach-file'), { name: 'size chart.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n% a size chart\n') });
  const sent = consultant.locator('[data-testid="chat-message"][data-author="consultant"]:not([data-pending]) [data-testid="chat-attachment"]');
  await sent.waitFor();
  assert.equal(await consultant.getByTestId('chat-input').inputValue(), '', 'the text went with the file');

  const answer = visitor.locator('[data-testid="widget-message"][data-author="consultant"]').filter({ hasText: 'Here is the size chart.' });
  await answer.waitFor();
  const file = answer.getByTestId('widget-attachment');
  assert.equal(await file.getAttribute('data-type'), 'file');
  assert.match(await file.innerText(), /size chart\.pdf/);
  assert.equal(await file.getAttribute('download'), 'size chart.pdf');
  // Served as a download of bytes, never as a page.
  const href = await file.getAttribute('href');
  const res = await fetch(href);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.match(res.headers.get('content-disposition'), /^attachment;/);
  await shot(visitor, 'attachments-widget');
  await shot(consultant, 'attachments-console');
  await visitor.context().close();
  await consultant.context().close();
});
