// Notices when the tab shows another page without a reload: history.pushState /
// replaceState (wrapped, transparently), back/forward, hash changes and
// document.title changes. The callback is debounced and may fire when nothing
// changed; the caller compares.

import type { ClientInfo } from '../protocol/ClientInfo';
import type { PageInfo } from '../protocol/PageInfo';
import { maskUrl } from '../shared/urlmask';

/** Where the tab is; its URL masked by the site's rule (`keep`: parameters shown as they are). */
export function currentPage(keep: readonly string[]): PageInfo {
  return { url: maskUrl(location.href, keep), title: document.title };
}

/** What the browser says of itself for the consultant's visitor panel; the referrer masked like page URLs, here. */
export function clientInfo(keep: readonly string[]): ClientInfo {
  let timezone = '';
  try {
    timezone = Intl.DateTimeFormat().resolvedOptions().timeZone ?? '';
  } catch {
    // No Intl time zones: left out.
  }
  return { language: navigator.language ?? '', timezone, referrer: document.referrer ? maskUrl(document.referrer, keep) : '' };
}

export function samePage(a: PageInfo | null, b: PageInfo): boolean {
  return !!a && a.url === b.url && a.title === b.title;
}

const listeners = new Set<() => void>();
let installed = false;
let timer: ReturnType<typeof setTimeout> | null = null;

function notify(): void {
  if (timer) return;
  // Frameworks usually set the title just after the route change: wait a beat
  // so both arrive in one `page` frame.
  timer = setTimeout(() => {
    timer = null;
    for (const fn of listeners) {
      try {
        fn();
      } catch (e) {
        console.warn('[chatcast]', e);
      }
    }
  }, 60);
}

/** Calls `onChange` (debounced) whenever the page may have changed. */
export function watchPage(onChange: () => void): void {
  listeners.add(onChange);
  if (installed) return;
  installed = true;

  for (const name of ['pushState', 'replaceState'] as const) {
    const original = history[name];
    if (typeof original !== 'function') continue;
    const wrapped = function (this: History, ...args: Parameters<History['pushState']>) {
      // The page's call comes first and its result (or exception) is the page's own.
      const result = original.apply(this, args);
      try {
        notify();
      } catch {
        // never break the page's navigation
      }
      return result;
    };
    try {
      history[name] = wrapped;
    } catch {
      // a frozen History: popstate and the title observer still work
    }
  }
  addEventListener('popstate', notify);
  addEventListener('hashchange', notify);

  // The title: its text, or a <title> element added or replaced.
  const observe = () => {
    const target = document.head || document.documentElement;
    new MutationObserver((records) => {
      for (const r of records) {
        const node = r.target;
        if (
          (node.nodeName === 'TITLE' || node.parentNode?.nodeName === 'TITLE') ||
          Array.from(r.addedNodes).some((n) => n.nodeName === 'TITLE') ||
          Array.from(r.removedNodes).some((n) => n.nodeName === 'TITLE')
        ) {
          notify();
          return;
        }
      }
    }).observe(target, { subtree: true, childList: true, characterData: true });
  };
  try {
    observe();
  } catch {
    // no observer: route changes are still reported
  }
}
