// Privacy on real pages (issue 8, docs/privacy.md). One end-to-end tour of the
// privacy corpus (tests/privacy-corpus/): a visitor on another origin
// broadcasts page after page of it — once with the screen socket in the
// widget's worker, once on the page's main thread — while this test types,
// toggles and clicks with real input, then reads every frame the visitor's
// page sent, every frame the consultant's window received, the replica's DOM
// (shadow roots and frames included) and every file the server wrote. No
// SECRET-… may be anywhere; every VISIBLE-… must be (the positive control).
// Then: what the visitor's preview shows against what the replica blocks, the
// receipt, synthetic clicks on the consent question, and a forged broadcast.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import {
  ADMIN, startServer, startSite, addSite, launchBrowser, consoleLogin, removeDir, shot,
  waitFor, buttonState, pressScreencast, viewHost, grant, replicaText,
} from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const corpusDir = join(here, 'privacy-corpus');
const page = (name) => readFileSync(join(corpusDir, `${name}.html`), 'utf8');

// The screen frame codec, to read pointer positions out of the frames.
const codecJs = await esbuild.build({
  entryPoints: [join(here, '..', 'src', 'shared', 'screencodec.ts')],
  bundle: true, format: 'esm', write: false, platform: 'neutral', logLevel: 'silent',
});
const codec = await import('data:text/javascript;base64,' + Buffer.from(codecJs.outputFiles[0].text).toString('base64'));

/** Typed with the keyboard into a field: real input events, as a visitor makes them. */
async function typeInto(locator, text) {
  await locator.click();
  await locator.press('End');
  await locator.pressSequentially(text, { delay: 4 });
}

/**
 * The corpus: each page, the files it is made of, and what the visitor does
 * there. Secrets and visible controls are the SECRET-… and VISIBLE-… strings
 * of the files, plus those typed here.
 */
const CASES = [
  {
    name: 'urls',
    query: '?token=SECRET-URL-QUERY&page=2#access_token=SECRET-URL-FRAG',
    async act(p) {
      await p.waitForTimeout(900); // the page pushes a new URL
    },
  },
  {
    name: 'replaced-password',
    async act(p) {
      await typeInto(p.locator('#email'), 'VISIBLE-TYPED-EMAIL');
      await typeInto(p.locator('#f7'), 'SECRET-TYPED-PW1');
      await p.click('#show'); // a new text field replaces the password field
      await typeInto(p.locator('#f7'), 'SECRET-TYPED-PW2');
    },
  },
  {
    name: 'common-names',
    async act(p) {
      await typeInto(p.locator('#city'), 'VISIBLE-TYPED-CITY');
      for (const id of ['pin', 'otp', 'passcode', 'cvv', 'secret', 'pwd', 'f1', 'f2', 'note']) {
        await typeInto(p.locator(`#${id}`), `SECRET-TYPED-${id.toUpperCase()}`);
      }
    },
  },
  {
    name: 'shadow',
    async act(p) {
      await typeInto(p.locator('#comp #pw'), 'SECRET-TYPED-SHADOW1');
      await p.locator('#comp #show').click();
      await typeInto(p.locator('#comp #pw'), 'SECRET-TYPED-SHADOW2');
    },
  },
  {
    name: 'frame',
    files: ['frame', 'frame-inner'],
    async act(p) {
      const f = p.frameLocator('#inner');
      await typeInto(f.locator('#pw'), 'SECRET-TYPED-FRAME1');
      await f.locator('#show').click();
      await typeInto(f.locator('#pw'), 'SECRET-TYPED-FRAME2');
    },
  },
  {
    name: 'late-widget',
    lateWidget: 1200,
    async act(p) {
      await typeInto(p.locator('#lp'), 'SECRET-TYPED-LATE');
    },
  },
  {
    name: 'masked-attributes',
    async act(p) {
      await typeInto(p.locator('#zin'), 'SECRET-TYPED-ZONE');
      await p.selectOption('#zsel', 'a');
      await p.selectOption('#zsel', 'SECRET-OPT-VALUE');
      await p.click('#zcheck');
      await p.waitForTimeout(1500); // the page changes attributes later
    },
  },
  { name: 'admin-selectors', async act() {} },
  {
    name: 'pin-pad',
    async act(p, tour) {
      const pad = await p.locator('#pad').boundingBox();
      tour.hiddenRects.push(pad);
      for (const digit of ['1', '9', '4', '6']) {
        const b = await p.locator('#pad button', { hasText: digit }).boundingBox();
        await p.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 4 });
        await p.mouse.click(b.x + b.width / 2, b.y + b.height / 2);
      }
      const ok = await p.locator('#ok').boundingBox();
      tour.visibleRects.push(ok);
      await p.mouse.move(ok.x + ok.width / 2, ok.y + ok.height / 2, { steps: 4 });
      await p.mouse.click(ok.x + ok.width / 2, ok.y + ok.height / 2);
      await p.waitForTimeout(300);
    },
  },
  {
    name: 'editable',
    async act(p) {
      await typeInto(p.locator('#plain'), 'VISIBLE-TYPED-PLAIN');
      await typeInto(p.locator('#masked'), 'SECRET-TYPED-EDIT-MASK');
      await typeInto(p.locator('#private'), 'SECRET-TYPED-EDIT-PRIVATE');
      await typeInto(p.locator('#zta'), 'SECRET-TYPED-TEXTAREA-MASK');
    },
  },
  {
    name: 'dynamic',
    typedSecrets: ['4000123412341234'],
    async act(p) {
      await p.click('#more');
      await typeInto(p.locator('#card'), '4000123412341234');
      await typeInto(p.locator('#newpw'), 'SECRET-TYPED-NEWPW');
    },
  },
];

const strings = (text, prefix) => [...new Set(text.match(new RegExp(`${prefix}-[A-Z0-9-]*[A-Z0-9]`, 'g')) ?? [])];
for (const c of CASES) {
  const files = (c.files ?? [c.name]).map(page).join('\n');
  const acts = c.act.toString() + (c.query ?? '');
  // HUSH-…: secrets in a field's own label-like attributes, which must not make the field secret by its words.
  c.secrets = [...strings(files + acts, 'SECRET'), ...strings(files + acts, 'HUSH'), ...(c.typedSecrets ?? [])];
  c.visible = strings(files + acts, 'VISIBLE');
  assert.ok(c.visible.length > 0, `${c.name} has a positive control`);
}
const ALL_SECRETS = CASES.flatMap((c) => c.secrets);

let server, site, other, browser;

before(async () => {
  server = await startServer();
  const pages = {};
  for (const c of CASES) {
    for (const [prefix, csp] of [['/c/', null], ['/s/', "worker-src 'none'"]]) {
      pages[`${prefix}${c.name}`] = { body: page(c.name), csp, lateWidget: c.lateWidget };
    }
  }
  // A frame's page has no widget of its own.
  pages['/c/frame-inner'] = { body: page('frame-inner'), noWidget: true };
  pages['/c/pixel'] = '';
  pages['/own-asset.png'] = '';
  // A hostile visitor: no widget, the protocol spoken by hand, a forged page broadcast.
  pages['/forge'] = { body: () => forgePage(server.url, site.key, site.origin, other.origin), noWidget: true };
  // Another site registered on the same server: the replica must never fetch from it.
  other = await startSite(server.url, {});
  site = await startSite(server.url, pages);
  site.key = addSite(server.dataDir, 'Corpus shop', site.origin);
  addSite(server.dataDir, 'Other shop', other.origin);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await other?.close();
  if (server) {
    await server.stop();
    removeDir(server.dataDir);
  }
});

/** The replica's whole DOM as text: tags, attributes, values, text — into shadow roots and frames. */
async function replicaDump(host) {
  const handle = await host.$('[data-testid="replica-frame"]');
  const frame = handle && (await handle.contentFrame());
  if (!frame) return '';
  return frame.evaluate(() => {
    const out = [];
    const walk = (n) => {
      if (n.nodeType === 3) out.push(n.data);
      if (n.nodeType === 1) {
        out.push(`<${n.tagName}`);
        for (const a of n.attributes) out.push(` ${a.name}="${a.value}"`);
        if ('value' in n && typeof n.value === 'string') out.push(` .value="${n.value}"`);
        out.push('>');
        if (n.shadowRoot) walk(n.shadowRoot);
        if (n.tagName === 'IFRAME') {
          try {
            if (n.contentDocument) walk(n.contentDocument);
          } catch { /* another origin */ }
        }
      }
      for (const c of n.childNodes) walk(c);
    };
    walk(document);
    return out.join('');
  });
}

/** Everything a page's sockets sent or received, as text (binary frames as UTF-8). */
function recordFrames(p, into, direction) {
  p.on('websocket', (ws) => ws.on(direction, (f) => into.push(f.payload)));
}

const asText = (frames) => frames.map((x) => (typeof x === 'string' ? x : Buffer.from(x).toString('utf8'))).join('\n');

/** Every pointer position in the screen frames (moves, presses, the agent's own pointer and click events). */
function pointerPositions(frames) {
  const out = [];
  let state = codec.newCodecState();
  for (const f of frames) {
    if (typeof f === 'string') continue;
    const kind = f[0];
    if (kind !== 1 && kind !== 2) continue;
    let events;
    try {
      if (kind === 1) state = codec.newCodecState();
      events = codec.decodeEvents(JSON.parse(Buffer.from(f.subarray(5)).toString('utf8')), state);
    } catch {
      continue;
    }
    for (const e of events) {
      const d = e.data ?? {};
      if (e.type === 3 && Array.isArray(d.positions)) for (const p of d.positions) out.push({ x: p.x, y: p.y });
      if (e.type === 3 && d.source === 2 && typeof d.x === 'number') out.push({ x: d.x, y: d.y });
      if (e.type === 5 && typeof d.payload?.x === 'number') out.push({ x: d.payload.x, y: d.payload.y });
    }
  }
  return out;
}

const inside = (p, r) => p.x >= r.x && p.x <= r.x + r.width && p.y >= r.y && p.y <= r.y + r.height;

/** Browser contexts a test opened; closed after each test, passed or failed. */
const opened = [];
afterEach(async () => {
  while (opened.length) await opened.pop().close().catch(() => {});
});

/** A consultant logged in with the one visitor of `visitorPage`'s dialog open. */
async function consultantOn(visitorPage) {
  const consultant = await consoleLogin(browser, server.url);
  opened.push(consultant.context());
  await consultant.getByTestId('visitor-item').first().waitFor();
  await waitFor(async () => (await consultant.getByTestId('visitor-item').count()) === 1, 'one visitor online');
  await consultant.getByTestId('visitor-item').first().click();
  await consultant.getByTestId('dialog').waitFor();
  return consultant;
}

/** Rectangles of elements, in their own document's viewport. */
const rects = (els) => els.map((el) => {
  const r = el.getBoundingClientRect();
  return { x: Math.round(r.x), y: Math.round(r.y), w: Math.round(r.width), h: Math.round(r.height) };
}).filter((r) => r.w > 0 && r.h > 0);

test('the visitor sees what stays hidden, as the replica shows it; a receipt follows the broadcast', { timeout: 120_000 }, async () => {
  const vctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  opened.push(vctx);
  const v = await vctx.newPage();
  await v.goto(`${site.origin}/c/common-names`);
  await v.getByTestId('widget-launcher').waitFor();
  const consultant = await consultantOn(v);
  await pressScreencast(consultant);
  await v.getByTestId('consent-block').waitFor();

  // Before answering: the preview, drawn on the visitor's own page.
  await v.getByTestId('consent-preview').click();
  const overlay = v.getByTestId('hidden-preview');
  await overlay.waitFor();
  assert.match(await overlay.innerText(), /will not see/);
  assert.match(await overlay.innerText(), /1[01] fields and 0 areas/, 'it counts what stays hidden');
  const preview = await v.locator('[data-testid="hidden-preview"] .hp-box[data-kind="blocked"]').evaluateAll(rects);
  await shot(v, 'privacy-preview');
  await v.getByTestId('hidden-preview-close').click();
  await overlay.waitFor({ state: 'detached' });

  await v.getByTestId('consent-yes').click();
  const host = await viewHost(consultant);
  await replicaText(host, '#title', 'Verify your account');
  // The same rules: every grey box of the preview is a blocked element of the replica, and no more.
  const handle = await host.$('[data-testid="replica-frame"]');
  const frame = await handle.contentFrame();
  const replica = await frame.$$eval('.rr-block', rects);
  const key = (r) => `${r.x},${r.y},${r.w}x${r.h}`;
  assert.ok(preview.length >= 10, `the preview shows every secret field (${preview.length})`);
  assert.deepEqual(replica.map(key).sort(), preview.map(key).sort(), 'the preview and the replica hide the same boxes');

  // While being viewed, the pill opens the same view.
  await v.locator('[data-testid="viewing-indicator"] [data-testid="consent-preview"]').click();
  await overlay.waitFor();
  await v.getByTestId('hidden-preview-close').click();

  // The end: a receipt in the visitor's transcript.
  await host.getByTestId('screencast-stop').click();
  const receipt = v.getByTestId('broadcast-receipt');
  await receipt.waitFor({ timeout: 10_000 });
  const text = await receipt.innerText();
  assert.match(text, /Receipt of the screen broadcast: Support saw this tab for \d+ s, on \/c\/common-names\. Stayed hidden from view: 1[01] fields and 0 areas\./);
  await shot(v, 'privacy-receipt');
  await vctx.close();
  await consultant.context().close();
});

test('only the visitor answers the consent question; Stop works whoever presses it', { timeout: 90_000 }, async () => {
  const vctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  opened.push(vctx);
  const v = await vctx.newPage();
  const screen = [];
  v.on('websocket', (ws) => ws.on('framesent', (f) => typeof f.payload !== 'string' && screen.push(f.payload)));
  await v.goto(`${site.origin}/c/replaced-password`);
  await v.getByTestId('widget-launcher').waitFor();
  const consultant = await consultantOn(v);
  await pressScreencast(consultant);
  await v.getByTestId('consent-block').waitFor();
  await v.waitForTimeout(1000); // past the moment the buttons are enabled
  // The page's own scripts press Yes: a click, a dispatched event, Enter on the focused button.
  await v.evaluate(() => {
    const yes = document.querySelector('[data-testid="chatcast-widget"]').shadowRoot.querySelector('[data-testid="consent-yes"]');
    yes.click();
    yes.dispatchEvent(new MouseEvent('click', { bubbles: true, composed: true }));
    yes.focus();
    yes.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
  });
  await v.waitForTimeout(1500);
  assert.equal(await buttonState(consultant), 'pending', 'a synthetic click does not answer');
  assert.equal(screen.filter((b) => b[0] === 1 || b[0] === 2).length, 0, 'nothing was recorded');
  assert.ok(await v.getByTestId('consent-block').isVisible(), 'the question is still there');
  // The visitor's own click does (positive control).
  await v.getByTestId('consent-yes').click();
  await viewHost(consultant);
  await waitFor(async () => (await buttonState(consultant)) === 'active', 'active after the real click');
  // Stop works with any input, a script's included: stopping is always safe.
  await v.evaluate(() => document.querySelector('[data-testid="chatcast-widget"]').shadowRoot.querySelector('[data-testid="viewing-stop"]').click());
  await waitFor(async () => (await buttonState(consultant)) === 'idle', 'idle after a scripted Stop');
  await vctx.close();
  await consultant.context().close();
});

test('a forged broadcast gets an inert replica that fetches nothing from anywhere but its own site', { timeout: 90_000 }, async () => {
  const vctx = await browser.newContext();
  opened.push(vctx);
  const v = await vctx.newPage();
  await v.goto(`${site.origin}/forge`);
  await v.waitForFunction(() => window.__forge?.welcomed === true);
  const consultant = await consultantOn(v);
  const consoleUrl = consultant.url();
  await pressScreencast(consultant);
  const host = await viewHost(consultant);
  await replicaText(host, '#ok', 'FORGED-VISIBLE', 20_000);
  await v.waitForFunction(() => window.__forge?.deltas === true);
  // Give every fetch the forged page asks for time to happen.
  await host.waitForTimeout(1500);
  assert.deepEqual(other.requests, [], "the consultant's browser fetched nothing from another site");
  assert.ok(site.requests.some((r) => r.startsWith('/own-asset.png')), "the broadcasting site's own image did load (positive control)");
  assert.equal(consultant.url(), consoleUrl, 'the console was not navigated');
  assert.match(host.url(), /\/console\/screencast\.html/, 'the screencast window was not navigated');
  const dump = await replicaDump(host);
  assert.ok(dump.includes('FORGED-VISIBLE') && dump.includes('FORGED-LATER'), `the forged page and its later change were rebuilt: ${dump}`);
  for (const bad of [/\son[a-z]+=/i, /javascript:/i, /http-equiv/i, /<BASE/, /srcdoc/i, /<SCRIPT/i, /<OBJECT/i, new RegExp(other.origin.replace(/[.:/]/g, '\\$&'))]) {
    assert.doesNotMatch(dump, bad, `the replica holds ${bad}`);
  }
  assert.ok(!(await host.evaluate(() => window.__pwned === true)), 'no forged script ran in the console');
  await vctx.close();
  await consultant.context().close();
});

/**
 * A hostile visitor's page: it speaks the widget protocol by hand, answers
 * its own consent question and probe, then sends a forged keyframe and delta
 * full of what must never run, navigate or fetch.
 */
function forgePage(serverUrl, key, own, otherOrigin) {
  const O = otherOrigin;
  const el = (id, tagName, attributes, childNodes = [], extra = {}) => ({ type: 2, tagName, attributes, childNodes, id, ...extra });
  const text = (id, textContent) => ({ type: 3, textContent, id });
  const doc = {
    type: 0, id: 1, childNodes: [
      el(2, 'html', {}, [
        el(3, 'head', {}, [
          el(4, 'base', { href: `${O}/` }),
          el(5, 'meta', { 'http-equiv': 'refresh', content: `0;url=${O}/nav` }),
          el(6, 'link', { rel: 'stylesheet', href: `${O}/x.css` }),
          el(7, 'style', {}, [text(8, `@import url(${O}/imp.css); body { background: url(${O}/bg.png) }`)]),
          el(26, 'link', { rel: 'prefetch', href: `${O}/prefetch` }),
        ]),
        el(9, 'body', {}, [
          el(10, 'p', { id: 'ok' }, [text(11, 'FORGED-VISIBLE')]),
          el(12, 'img', { src: `${own}/own-asset.png`, width: '10', height: '10' }),
          el(13, 'img', { src: `${O}/img.png`, onerror: `parent.__pwned = true; parent.location = '${O}/onerror'` }),
          el(14, 'a', { href: `javascript:parent.__pwned=true`, target: '_top' }, [text(15, 'link')]),
          el(16, 'iframe', { srcdoc: `<script>top.__pwned = true; top.location = '${O}/srcdoc'</script>` }),
          el(17, 'svg', {}, [el(18, 'script', {}, [text(19, `top.__pwned = true`)], { isSVG: true })], { isSVG: true }),
          el(20, 'div', { style: `background-image: url(${O}/style.png); width: 10px; height: 10px` }),
          el(21, 'object', { data: `${O}/obj` }),
          el(22, 'img', { srcset: `${O}/a.png 1x, ${O}/b.png 2x` }),
          el(23, 'video', { poster: `${O}/poster.png` }),
          el(24, 'form', { action: `${O}/form` }, [el(25, 'button', { formaction: `${O}/fa` }, [text(27, 'go')])]),
        ]),
      ]),
    ],
  };
  const keyframe = [
    { type: 4, data: { href: `${own}/forge`, width: 1000, height: 700 } },
    { type: 2, data: { node: doc, initialOffset: { top: 0, left: 0 } } },
  ];
  const delta = [
    { type: 3, data: { source: 0, texts: [], removes: [], attributes: [
      { id: 14, attributes: { href: `javascript:parent.__pwned=true` } },
      { id: 10, attributes: { style: `background: url(${O}/mutated.png)`, onclick: 'parent.__pwned = true' } },
    ], adds: [
      // rrweb adds a subtree node by node, each under its parent.
      { parentId: 9, nextId: null, node: el(30, 'p', { id: 'later' }) },
      { parentId: 30, nextId: null, node: text(31, 'FORGED-LATER') },
      { parentId: 9, nextId: null, node: el(32, 'img', { src: `${O}/late.png`, onload: 'parent.__pwned = true' }) },
    ] } },
    { type: 3, data: { source: 10, family: 'x', fontSource: `url(${O}/font.woff)`, buffer: false, descriptors: {} } },
  ];
  const ws = serverUrl.replace(/^http/, 'ws');
  // JSON inside an inline script: "</script>" in it would end the script.
  const js = (v) => JSON.stringify(v).replace(/<\//g, '<\\/');
  return `<p>A hostile visitor.</p><script>
  const frame = (kind, seq, body) => {
    const b = new TextEncoder().encode(JSON.stringify(body));
    const out = new Uint8Array(5 + b.length);
    out[0] = kind; new DataView(out.buffer).setUint32(1, seq); out.set(b, 5);
    return out;
  };
  window.__forge = {};
  const chat = new WebSocket(${JSON.stringify(`${ws}/ws/visitor?site=${key}`)});
  const send = (m) => chat.send(JSON.stringify({ v: 1, ...m }));
  chat.onopen = () => send({ t: 'hello', page: { url: location.href, title: 'Forge' }, tab_id: 'forge-tab' });
  chat.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.t === 'welcome') window.__forge.welcomed = true;
    if (m.t === 'consent_request') send({ t: 'consent_answer', request_id: m.request_id, allow: true });
    if (m.t === 'probe') {
      send({ t: 'probe', id: m.id });
      chat.send(frame(3, 0, 'x'.repeat(m.upload_bytes)));
    }
    if (m.t === 'screencast_start') {
      const s = new WebSocket(${JSON.stringify(`${ws}/ws/screen?token=`)} + encodeURIComponent(m.screen_token));
      s.onopen = () => {
        s.send(frame(1, 0, ${js(keyframe)}));
        setTimeout(() => { s.send(frame(2, 1, ${js(delta)})); window.__forge.deltas = true; }, 1500);
      };
    }
  };
</script>`;
}

test('the privacy corpus: nothing private leaves, on the wire, in the replica or in storage; the rest does', { timeout: 420_000 }, async () => {
  const admin = await consoleLogin(browser, server.url);
  await admin.getByTestId('me').waitFor();
  // The site's admin masks and blocks by selector, and keeps the `page` parameter visible.
  const sites = await admin.evaluate(() => fetch('/api/sites').then((r) => r.json()));
  const mine = sites.find((s) => s.key === site.key);
  const saved = await admin.evaluate(([id]) => fetch(`/api/sites/${id}/settings`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ privacy: { mask_all_inputs: false, block_selectors: ['.credit-line'], mask_selectors: ['.account-summary'], keep_url_params: ['page'] } }),
  }).then((r) => r.status), [mine.id]);
  assert.equal(saved, 200);

  const visitorSent = [];
  const consultantGot = [];
  for (const [prefix, mode] of [['/c/', 'worker'], ['/s/', 'main thread']]) {
    const vctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  opened.push(vctx);
    const v = await vctx.newPage();
    recordFrames(v, visitorSent, 'framesent');
    const cctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    cctx.on('page', (p) => recordFrames(p, consultantGot, 'framereceived'));
    const consultant = await cctx.newPage();
    recordFrames(consultant, consultantGot, 'framereceived');
    await consultant.goto(`${server.url}/console/`);
    await consultant.getByTestId('login-email').fill(ADMIN.email);
    await consultant.getByTestId('login-password').fill(ADMIN.password);
    await consultant.getByTestId('login-submit').click();

    const first = CASES[0];
    await v.goto(`${site.origin}${prefix}${first.name}${first.query ?? ''}`);
    await v.getByTestId('widget-launcher').waitFor();
    const item = consultant.getByTestId('visitor-item');
    await item.first().waitFor();
    await item.first().click();
    await consultant.getByTestId('dialog').waitFor();
    const host = await grant(consultant, v, ['#title', 'Reset your password']);
    // The chat panel opened for the question: out of the way of the page's fields.
    await v.getByTestId('widget-launcher').click();
    const workers = v.workers().length;
    if (mode === 'worker') assert.equal(workers, 1, 'the screen socket runs in a worker');
    else assert.equal(workers, 0, 'the page forbids workers: the screen socket runs on its main thread');

    const tour = { hiddenRects: [], visibleRects: [] };
    for (const c of CASES) {
      if (c !== first) {
        await v.goto(`${site.origin}${prefix}${c.name}${c.query ?? ''}`);
        await v.getByTestId('widget-launcher').waitFor({ timeout: 15_000 });
      }
      const sentBefore = visitorSent.length;
      await c.act(v, tour);
      let dump = '';
      await waitFor(async () => {
        // The replica's iframe is rebuilt on each new page (a fresh keyframe): read again.
        dump = await replicaDump(host).catch((e) => (/detached/.test(e.message) ? '' : Promise.reject(e)));
        return c.visible.every((s) => dump.includes(s));
      }, `${mode}, ${c.name}: the replica shows ${c.visible.join(', ')}`, 20_000).catch((e) => {
        const missing = c.visible.filter((s) => !dump.includes(s));
        throw new Error(`${e.message} (missing ${missing.join(', ')})`);
      });
      for (const s of ALL_SECRETS) assert.ok(!dump.includes(s), `${mode}, ${c.name}: ${s} is in the replica`);
      if (c.name === 'masked-attributes') {
        // A masked zone keeps its layout: the same elements, their text as bullets.
        assert.match(dump, /<P id="who"[^>]*>••••••• •• •+/, 'masked text keeps its layout: bullets, spaces where they were');
        assert.match(dump, /<INPUT id="zin" [^>]*placeholder="•{21}"/, "a masked zone's placeholder is bullets of its length");
        assert.ok(!/SECRET-OPT-VALUE|selected=/.test(dump), 'the chosen option of a masked select is not shown');
      }
      if (c.name === 'urls') {
        assert.ok(dump.includes('token=•••&amp;page=2') || dump.includes('token=•••&page=2'), 'a kept parameter stays, the others are masked');
      }
      if (c.name === 'pin-pad') {
        const positions = pointerPositions(visitorSent.slice(sentBefore));
        const over = positions.filter((p) => tour.hiddenRects.some((r) => inside(p, r)));
        assert.deepEqual(over, [], `${mode}: no pointer position over the private PIN pad left the page`);
        assert.ok(positions.some((p) => tour.visibleRects.some((r) => inside(p, r))), `${mode}: the click outside it did (positive control)`);
      }
      await shot(host, `privacy-${mode.replace(' ', '-')}-${c.name}`);
    }
    await host.getByTestId('screencast-stop').click();
    await waitFor(async () => (await buttonState(consultant)) === 'idle', 'idle after stop');
    await vctx.close();
    await cctx.close();
    await admin.evaluate(() => null);
  }

  // Every frame, both sides.
  const sent = asText(visitorSent);
  const got = asText(consultantGot);
  for (const s of ALL_SECRETS) {
    assert.ok(!sent.includes(s), `${s} was sent by the visitor's page`);
    assert.ok(!got.includes(s), `${s} reached the consultant`);
  }
  for (const c of CASES) {
    for (const s of c.visible) assert.ok(got.includes(s), `positive control: ${s} reached the consultant`);
  }
  assert.ok(sent.includes('/s/urls?token=•••&page=2'), 'the page address went out masked (positive control)');

  // Every file the server wrote.
  await admin.context().close();
  const dataDir = server.dataDir;
  await server.stop();
  const files = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const path = join(d, f);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(dataDir);
  const stored = files.map((f) => readFileSync(f).toString('utf8')).join('\n');
  assert.ok(files.length > 0 && stored.includes('Receipt of the screen broadcast'), 'the data dir holds the receipts (positive control)');
  assert.match(stored, /\/c\/urls\?(token|session)=•••&page=[23]/, 'the masked page address is stored (positive control)');
  for (const s of ALL_SECRETS) assert.ok(!stored.includes(s), `${s} is stored in ${dataDir}`);
});
