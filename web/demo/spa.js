// The trip planner: a tiny single-page app with three views and
// history.pushState routing (spa.html, spa.html?view=gear, spa.html?view=review).
(function () {
  'use strict';
  var KEY = 'northwind:trip';
  var SITE = 'Trip planner — Northwind Outfitters';
  var GEAR = [
    { id: 'tent', name: 'Tent (Ridgeline 2)', price: 289 },
    { id: 'pack', name: 'Backpack, 40–50 l', price: 174 },
    { id: 'boots', name: 'Broken-in boots', price: 219 },
    { id: 'shell', name: 'Rain shell', price: 149 },
    { id: 'light', name: 'Lantern or headlamp', price: 39 },
    { id: 'mug', name: 'Mug and stove', price: 18 },
  ];
  var state = load();
  var app = document.getElementById('app');

  function load() {
    var s = { destination: '', start: '', nights: 2, party: '2', notes: '', have: {} };
    try {
      var saved = JSON.parse(sessionStorage.getItem(KEY) || 'null');
      if (saved) for (var k in s) if (k in saved) s[k] = saved[k];
    } catch (e) { /* ignore */ }
    return s;
  }
  function save() {
    try { sessionStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* ignore */ }
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function routeOf(url) {
    var view = new URL(url, location.href).searchParams.get('view');
    return view === 'gear' || view === 'review' ? view : 'plan';
  }
  function hrefOf(route) {
    return route === 'plan' ? 'spa.html' : 'spa.html?view=' + route;
  }

  var views = {
    plan: {
      title: 'Plan your trip',
      render: function () {
        return '<h2>Where are you headed?</h2>' +
          '<p class="muted">Tell us about the trip and we will suggest what to bring.</p>' +
          '<div class="field"><label for="destination">Destination</label>' +
          '<input class="input" id="destination" name="destination" placeholder="e.g. Enchantments, WA" value="' + esc(state.destination) + '"></div>' +
          '<div class="row-3">' +
          '<div class="field"><label for="start">Start date</label><input class="input" id="start" name="start" type="date" value="' + esc(state.start) + '"></div>' +
          '<div class="field"><label for="nights">Nights</label><input class="input" id="nights" name="nights" type="number" min="0" max="30" value="' + esc(state.nights) + '"></div>' +
          '<div class="field"><label for="party">People</label><select class="input" id="party" name="party">' +
          ['1', '2', '3', '4', '5+'].map(function (n) { return '<option' + (n === state.party ? ' selected' : '') + '>' + n + '</option>'; }).join('') +
          '</select></div></div>' +
          '<div class="field"><label for="notes">Notes</label><textarea class="input" id="notes" name="notes" rows="3" placeholder="Weather, permits, who brings the stove…">' + esc(state.notes) + '</textarea></div>' +
          '<a class="btn btn-dark" href="spa.html?view=gear" data-route="gear">Next: gear checklist →</a>';
      },
    },
    gear: {
      title: 'Gear checklist',
      render: function () {
        var have = GEAR.filter(function (g) { return state.have[g.id]; }).length;
        return '<h2>Gear checklist</h2>' +
          '<p class="muted">' + (state.destination ? 'For ' + esc(state.destination) + ', ' : '') + esc(state.nights) + ' night(s), ' + esc(state.party) + ' people. Tick what you already own.</p>' +
          '<div class="progress" aria-hidden="true"><span style="width:' + Math.round(have / GEAR.length * 100) + '%"></span></div>' +
          '<p class="small muted" id="gear-count">' + have + ' of ' + GEAR.length + ' packed</p>' +
          '<ul class="gear-list">' + GEAR.map(function (g) {
            return '<li><label><input type="checkbox" data-gear="' + g.id + '"' + (state.have[g.id] ? ' checked' : '') + '> ' + esc(g.name) + '</label><span class="muted small">$' + g.price + '</span></li>';
          }).join('') + '</ul>' +
          '<div style="display:flex;gap:10px;margin-top:20px;flex-wrap:wrap">' +
          '<a class="btn btn-ghost" href="spa.html" data-route="plan">← Back</a>' +
          '<a class="btn btn-dark" href="spa.html?view=review" data-route="review">Next: review →</a></div>';
      },
    },
    review: {
      title: 'Review your trip',
      render: function () {
        var missing = GEAR.filter(function (g) { return !state.have[g.id]; });
        var total = missing.reduce(function (s, g) { return s + g.price; }, 0);
        return '<h2>Review</h2>' +
          '<dl class="kv" style="margin-bottom:20px">' +
          '<dt>Destination</dt><dd>' + (esc(state.destination) || '<span class="muted">not set</span>') + '</dd>' +
          '<dt>Start</dt><dd>' + (esc(state.start) || '<span class="muted">not set</span>') + '</dd>' +
          '<dt>Nights</dt><dd>' + esc(state.nights) + '</dd>' +
          '<dt>People</dt><dd>' + esc(state.party) + '</dd>' +
          (state.notes ? '<dt>Notes</dt><dd style="white-space:pre-wrap">' + esc(state.notes) + '</dd>' : '') +
          '</dl>' +
          (missing.length
            ? '<h3>Still missing</h3><ul>' + missing.map(function (g) { return '<li>' + esc(g.name) + ' — $' + g.price + '</li>'; }).join('') + '</ul>' +
              '<p><strong>$' + total + '</strong> for everything missing.</p>' +
              '<button class="btn btn-primary" type="button" id="add-missing">Add missing gear to cart</button> '
            : '<p class="notice">You have everything. Have a great trip!</p>') +
          '<a class="btn btn-ghost" href="spa.html?view=gear" data-route="gear">← Back to the checklist</a>';
      },
    },
  };

  function render(route) {
    var view = views[route];
    document.title = view.title + ' — ' + SITE;
    app.innerHTML = view.render();
    app.classList.remove('fade-in');
    void app.offsetWidth;
    app.classList.add('fade-in');
    document.querySelectorAll('.app-nav a').forEach(function (a) {
      if (a.getAttribute('data-route') === route) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
  }

  function go(route) {
    if (routeOf(location.href) !== route) history.pushState({ route: route }, '', hrefOf(route));
    render(route);
    window.scrollTo(0, 0);
  }

  document.addEventListener('click', function (ev) {
    var a = ev.target.closest && ev.target.closest('a[data-route]');
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    go(a.getAttribute('data-route'));
  });
  app.addEventListener('input', function (ev) {
    var t = ev.target;
    if (t.name && t.name in state && t.name !== 'have') { state[t.name] = t.value; save(); }
  });
  app.addEventListener('change', function (ev) {
    var t = ev.target;
    var id = t.getAttribute && t.getAttribute('data-gear');
    if (id) {
      state.have[id] = t.checked;
      save();
      render('gear');
    } else if (t.name && t.name in state && t.name !== 'have') { state[t.name] = t.value; save(); }
  });
  app.addEventListener('click', function (ev) {
    if (ev.target.id !== 'add-missing' || !window.northwind) return;
    GEAR.forEach(function (g) { if (!state.have[g.id]) window.northwind.add(g.name, g.price); });
    ev.target.textContent = 'Added to cart ✓';
    ev.target.disabled = true;
  });
  addEventListener('popstate', function () { render(routeOf(location.href)); });

  history.replaceState({ route: routeOf(location.href) }, '', location.href);
  render(routeOf(location.href));
})();
