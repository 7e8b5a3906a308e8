// Northwind Outfitters demo shop: a tiny cart counter and a few page helpers.
// Plain script, no framework, no external resources.
(function () {
  'use strict';
  var KEY = 'northwind:cart';

  function cart() {
    try { return JSON.parse(localStorage.getItem(KEY) || '[]'); } catch (e) { return []; }
  }
  function saveCart(items) {
    try { localStorage.setItem(KEY, JSON.stringify(items)); } catch (e) { /* ignore */ }
    showCount();
  }
  function showCount() {
    var n = cart().length;
    document.querySelectorAll('[data-cart-count]').forEach(function (el) {
      el.textContent = String(n);
      el.hidden = n === 0;
    });
  }
  window.northwind = {
    cart: cart,
    add: function (name, price) {
      var items = cart();
      items.push({ name: name, price: price });
      saveCart(items);
    },
    clear: function () { saveCart([]); },
    openChat: function () {
      var host = document.querySelector('[data-testid="chatcast-widget"]');
      var launcher = host && host.shadowRoot && host.shadowRoot.querySelector('[data-testid="widget-launcher"]');
      if (launcher && launcher.getAttribute('aria-expanded') !== 'true') launcher.click();
      return !!launcher;
    },
  };

  document.addEventListener('click', function (ev) {
    var t = ev.target;
    var btn = t && t.closest ? t.closest('[data-add-to-cart]') : null;
    if (btn) {
      window.northwind.add(btn.getAttribute('data-add-to-cart'), Number(btn.getAttribute('data-price') || 0));
      var old = btn.textContent;
      btn.textContent = 'Added ✓';
      btn.disabled = true;
      setTimeout(function () { btn.textContent = old; btn.disabled = false; }, 1200);
      return;
    }
    var chat = t && t.closest ? t.closest('[data-open-chat]') : null;
    if (chat) {
      ev.preventDefault();
      if (!window.northwind.openChat()) alert('The chat is still loading. Try again in a moment.');
    }
  });

  // Mark the current page in the navigation.
  var here = location.pathname.split('/').pop() || 'index.html';
  document.querySelectorAll('.nav a').forEach(function (a) {
    if (a.getAttribute('href') === here) a.setAttribute('aria-current', 'page');
  });
  showCount();
  addEventListener('storage', function (ev) { if (ev.key === KEY) showCount(); });
})();
