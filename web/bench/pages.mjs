// Test pages for the benchmarks, generated at run time (deterministic: a
// seeded generator, so every run serializes the same bytes).
//
//   typicalPage({nodes})  a shop-like page: header, navigation, product cards
//                         with images, an article, a price table, a form, a
//                         footer, ~6 KB of CSS; `nodes` DOM nodes in all
//                         (elements + text, as rrweb serializes them).
//   ACTIVITY_SCRIPT       the page's own "busy" behaviour (started by the bench):
//                         a ticker table updated every 400 ms, a feed item
//                         added/removed every 1.5 s, a card's class toggled every 3 s;
//                         a counter (#counter) set every 100 ms on demand.

/** Mulberry32: a small seeded PRNG. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'account address amazing apply arrive basket battery better bottle bright budget button cable camera canvas carry ' +
  'change charge choose classic clean clear colour comfort compare cotton count cover custom daily deliver design detail ' +
  'device direct discount double durable easy edition electric energy everyday exchange express fabric family fashion ' +
  'feature filter finish fitting flexible fresh friendly full garden gentle gift glass great guarantee handmade heavy ' +
  'helpful holiday home instant kitchen label large leather light limited linen local lovely material medium metal ' +
  'modern natural new office order organic original outdoor package perfect plastic pocket popular premium price ' +
  'private product quality quick ready recycled refund regular return review rubber safe sale season secure service ' +
  'shipping simple size smart soft special sport standard steel storage strong style summer support sustainable ' +
  'table travel trusted ultra unique useful value vintage warm warranty washable water weekly winter wireless wooden'
).split(' ');

const CSS = (() => {
  const r = rng(7);
  const rules = [
    '*{box-sizing:border-box}',
    'body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;background:#f6f7f9}',
    'a{color:#2456c8;text-decoration:none}a:hover{text-decoration:underline}',
    'header.top{display:flex;align-items:center;gap:24px;padding:12px 32px;background:#fff;border-bottom:1px solid #e3e6ea;position:sticky;top:0;z-index:5}',
    '.logo{font-weight:700;font-size:20px;color:#111}',
    'nav.main ul{display:flex;gap:18px;list-style:none;margin:0;padding:0}',
    'nav.main li a{color:#333;font-weight:500}',
    '.hero{padding:40px 32px;background:linear-gradient(120deg,#e9f0ff,#fdf2ea)}',
    '.hero h1{font-size:34px;margin:0 0 8px}',
    '.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:18px;padding:24px 32px}',
    '.card{background:#fff;border:1px solid #e3e6ea;border-radius:10px;padding:14px;display:flex;flex-direction:column;gap:6px}',
    '.card.hot{outline:2px solid #f59e0b}',
    '.card img{width:100%;height:150px;object-fit:cover;background:#eef1f5;border-radius:6px}',
    '.card h3{font-size:16px;margin:4px 0}',
    '.price{font-weight:700;color:#0f7b3f}',
    '.old{text-decoration:line-through;color:#889;margin-left:6px;font-weight:400}',
    '.rating span{color:#f5a623}',
    '.tags{display:flex;flex-wrap:wrap;gap:4px}.tag{font-size:12px;background:#eef1f5;border-radius:999px;padding:2px 8px}',
    '.btn{display:inline-block;background:#2456c8;color:#fff;border:0;border-radius:6px;padding:8px 12px;cursor:pointer}',
    'article{max-width:760px;margin:24px auto;padding:0 32px}',
    'article p{margin:0 0 12px}',
    'table.prices{border-collapse:collapse;margin:24px 32px;background:#fff}',
    'table.prices td,table.prices th{border:1px solid #e3e6ea;padding:6px 10px;text-align:left}',
    '.up{color:#0f7b3f}.down{color:#c0392b}',
    'form.contact{display:grid;gap:10px;max-width:520px;margin:24px 32px;padding:16px;background:#fff;border:1px solid #e3e6ea;border-radius:10px}',
    'form.contact input,form.contact textarea{font:inherit;padding:8px;border:1px solid #c9ced6;border-radius:6px}',
    'ul.feed{list-style:none;margin:0 32px;padding:0}ul.feed li{padding:6px 0;border-bottom:1px solid #eee}',
    'footer{display:grid;grid-template-columns:repeat(4,1fr);gap:24px;padding:32px;background:#1d2430;color:#cfd6e0;margin-top:32px}',
    'footer a{color:#cfd6e0}footer ul{list-style:none;padding:0;margin:0}',
    '.counter{font-variant-numeric:tabular-nums;font-weight:700}',
  ];
  // Utility classes, as real sites ship (unused ones too).
  for (let i = 0; i < 90; i++) {
    const p = ['m', 'p', 'mt', 'mb', 'px', 'py', 'gap', 'w', 'h', 'fs'][i % 10];
    const v = Math.floor(r() * 48);
    const prop = { m: 'margin', p: 'padding', mt: 'margin-top', mb: 'margin-bottom', px: 'padding-inline', py: 'padding-block', gap: 'gap', w: 'width', h: 'height', fs: 'font-size' }[p];
    rules.push(`.${p}-${i}{${prop}:${v}px}`);
  }
  rules.push('@media (max-width:700px){.grid{grid-template-columns:1fr 1fr}footer{grid-template-columns:1fr 1fr}}');
  return rules.join('\n');
})();

function esc(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The body of a shop-like page with about `nodes` DOM nodes (elements and text
 * nodes, whitespace included, counted the way rrweb serializes them).
 */
export function typicalBody(nodes = 4000, seed = 1) {
  const r = rng(seed);
  const word = () => WORDS[Math.floor(r() * WORDS.length)];
  const words = (n) => Array.from({ length: n }, word).join(' ');
  const title = (n) => {
    const w = words(n);
    return w[0].toUpperCase() + w.slice(1);
  };
  const parts = [];
  // Header + navigation (~70 nodes).
  parts.push(`<header class="top"><a class="logo" href="/">Northwind Goods</a>
<nav class="main" aria-label="Main"><ul>${Array.from({ length: 8 }, (_, i) => `<li><a href="/c/${i}">${title(1)}</a></li>`).join('')}</ul></nav>
<form class="search" role="search" onsubmit="return false"><input id="q" type="search" placeholder="Search products" aria-label="Search"></form>
<span>Basket: <span id="basket">0</span></span></header>
<section class="hero"><h1 id="headline">${title(4)}</h1><p>${words(24)}.</p><p>Counter: <span id="counter" class="counter">0</span></p><a class="btn" href="/sale">${title(2)}</a></section>`);
  // The tail (article, live table, feed, form, footer) is fixed; cards fill the rest.
  const article = `<article><h2>${title(5)}</h2>${Array.from({ length: 6 }, () => `<p>${words(30)} <a href="/blog/${Math.floor(r() * 999)}">${words(2)}</a> ${words(20)} <em>${words(3)}</em> ${words(15)}.</p>`).join('\n')}</article>`;
  const table = `<table class="prices" id="ticker"><thead><tr><th>Item</th><th>Price</th><th>Change</th><th>Stock</th></tr></thead><tbody>${Array.from({ length: 12 }, (_, i) => `<tr id="t${i}"><td>${title(2)}</td><td class="p">${(r() * 200).toFixed(2)}</td><td class="c up">+${(r() * 3).toFixed(2)}%</td><td>${Math.floor(r() * 500)}</td></tr>`).join('\n')}</tbody></table>`;
  const feed = `<h2 style="margin:24px 32px 8px">Latest orders</h2><ul class="feed" id="feed">${Array.from({ length: 8 }, (_, i) => `<li>${title(3)} — ${Math.floor(r() * 60)} min ago</li>`).join('\n')}</ul>`;
  const form = `<form class="contact" onsubmit="return false"><h2>Contact us</h2>
<label>Name <input id="name" name="name" autocomplete="name"></label>
<label>Email <input id="email" type="email" name="email"></label>
<label>Message <textarea id="msg" rows="4" name="message"></textarea></label>
<label>Password <input id="pw" type="password"></label>
<button class="btn" type="submit">Send</button></form>`;
  const footer = `<footer>${Array.from({ length: 4 }, () => `<div><h4>${title(1)}</h4><ul>${Array.from({ length: 6 }, (_, i) => `<li><a href="/f/${i}">${title(2)}</a></li>`).join('\n')}</ul></div>`).join('\n')}<p id="end-marker">© Northwind Goods</p></footer>`;
  const fixed = parts.join('\n') + article + table + feed + form + footer;
  const fixedNodes = countNodes(fixed);
  // One card: ~36 nodes (tags vary).
  const cards = [];
  let total = fixedNodes + 6; // grid wrapper, section, whitespace
  let i = 0;
  while (total < nodes) {
    const tags = Array.from({ length: 1 + Math.floor(r() * 3) }, () => `<span class="tag">${word()}</span>`).join('');
    const price = (5 + r() * 300).toFixed(2);
    const card = `<div class="card" id="card${i}" data-sku="SKU-${100000 + Math.floor(r() * 900000)}">
<img src="/img/p${i % 40}.jpg" alt="${esc(title(3))}" width="220" height="150" loading="lazy">
<h3><a href="/p/${i}">${title(3)}</a></h3>
<div class="rating" aria-label="rating"><span>★</span><span>★</span><span>★</span><span>★</span><span>☆</span> <small>(${Math.floor(r() * 900)})</small></div>
<p>${words(10 + Math.floor(r() * 10))}.</p>
<div class="tags">${tags}</div>
<p class="price">€${price}${r() < 0.3 ? ` <span class="old">€${(Number(price) * 1.2).toFixed(2)}</span>` : ''}</p>
<button class="btn" type="button" onclick="document.getElementById('basket').textContent=+document.getElementById('basket').textContent+1">Add to basket</button>
</div>`;
    const n = countNodes(card) + 1;
    if (total + n > nodes + 18) break;
    cards.push(card);
    total += n;
    i++;
  }
  return parts.join('\n') + `\n<section class="grid" id="grid">\n${cards.join('\n')}\n</section>\n` + article + table + feed + form + footer;
}

/** Nodes the parser makes from a fragment (elements + text nodes), roughly: tags + text runs. */
function countNodes(html) {
  const tags = (html.match(/<[a-zA-Z][^>]*>/g) || []).length;
  // Text runs: non-empty stretches between tags.
  const texts = html.split(/<[^>]*>/).filter((s) => s.length > 0).length;
  return tags + texts;
}

/** A heavy page: the typical page scaled up to `nodes` (~100,000). */
export function heavyBody(nodes = 100_000) {
  return typicalBody(nodes, 2);
}

export const PAGE_CSS = CSS;

/**
 * The page's own behaviour, inert until the bench starts it:
 *   __page.counter(periodMs)   #counter = "c<n>" every period; log [n, t] (t: timeOrigin-based ms)
 *   __page.busy()              ticker / feed / class changes, like a live shop page
 *   __page.stop()
 * Also records every mousemove (timeOrigin-based dispatch time, x, y) when
 * __page.trackMoves is set, and long tasks from the start (buffered).
 */
export const PAGE_SCRIPT = `
(function () {
  var now = function () { return performance.timeOrigin + performance.now(); };
  var P = window.__page = { counterLog: [], moves: [], longtasks: [], trackMoves: false, timers: [] };
  try {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (e) { P.longtasks.push([performance.timeOrigin + e.startTime, e.duration]); });
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) {}
  addEventListener('mousemove', function (e) {
    if (P.trackMoves) P.moves.push([now(), e.clientX, e.clientY, performance.timeOrigin + e.timeStamp]);
  }, { capture: true, passive: true });
  P.counter = function (period) {
    var el = document.getElementById('counter'); var n = 0;
    P.timers.push(setInterval(function () { n++; el.textContent = 'c' + n; P.counterLog.push([n, now()]); }, period));
  };
  P.busy = function () {
    var rows = document.querySelectorAll('#ticker tbody tr');
    var feed = document.getElementById('feed');
    var cards = document.querySelectorAll('.card');
    var k = 0;
    P.timers.push(setInterval(function () {
      k++;
      var row = rows[k % rows.length];
      var p = row.querySelector('.p'), c = row.querySelector('.c');
      var v = Number(p.textContent) * (1 + (((k * 7919) % 13) - 6) / 1000);
      p.textContent = v.toFixed(2);
      var up = ((k * 31) % 5) > 1;
      c.textContent = (up ? '+' : '-') + (((k * 17) % 300) / 100).toFixed(2) + '%';
      c.className = 'c ' + (up ? 'up' : 'down');
    }, 400));
    P.timers.push(setInterval(function () {
      k++;
      var li = document.createElement('li');
      li.textContent = 'Order #' + (10000 + k) + ' — ' + ['basket', 'lamp', 'kettle', 'scarf', 'chair'][k % 5] + ' — just now';
      feed.insertBefore(li, feed.firstChild);
      if (feed.children.length > 8) feed.removeChild(feed.lastElementChild);
    }, 1500));
    P.timers.push(setInterval(function () {
      k++;
      cards[(k * 13) % cards.length].classList.toggle('hot');
    }, 3000));
  };
  P.stop = function () { P.timers.forEach(clearInterval); P.timers = []; };
})();
`;

/** A whole HTML document. `widget`: {serverUrl, key} or null; `extraHead`: more tags. */
export function htmlDoc({ title = 'Northwind Goods', body, widget = null, extraHead = '', extraBody = '' }) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CSS}</style>
<script>${PAGE_SCRIPT}</script>${extraHead}</head><body>
${body}
${extraBody}${widget ? `<script src="${widget.serverUrl}/widget.js" data-site="${widget.key}" async></script>` : ''}
</body></html>`;
}
