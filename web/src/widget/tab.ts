// A random id for this browser tab, kept in sessionStorage so it survives
// navigation within the tab (the server lets a screen broadcast follow one tab).
// A duplicated tab inherits a copy of sessionStorage, so on start the widget
// asks its other live tabs whether one already uses the id, and takes a new
// one if so.

import type { Store } from './storage';

const NAME = 'tab';
/** How long to wait for another tab to object before using the id. */
const QUESTION_MS = 40;

function randomId(): string {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return 't_' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Resolves to this tab's id, after making sure no other open tab of the site uses it. */
export function tabId(store: Store, siteKey: string): Promise<string> {
  let id = store.get(NAME);
  if (!id) {
    id = randomId();
    store.set(NAME, id);
  }
  if (typeof BroadcastChannel !== 'function') return Promise.resolve(id);
  let channel: BroadcastChannel;
  try {
    channel = new BroadcastChannel(`chatcast:${siteKey}:tabs`);
  } catch {
    return Promise.resolve(id);
  }
  const me = randomId(); // this page, to ignore our own echo
  let current = id;
  return new Promise((resolve) => {
    let settled = false;
    channel.onmessage = (ev: MessageEvent) => {
      const d = ev.data as { q?: string; taken?: string; from?: string; to?: string } | null;
      if (!d || d.from === me) return;
      if (d.q && d.q === current) {
        // Someone else claims our id: it is a copy of this tab. Tell it.
        channel.postMessage({ taken: current, from: me, to: d.from });
      } else if (d.taken && d.to === me && d.taken === current && !settled) {
        current = randomId();
        store.set(NAME, current);
      }
    };
    channel.postMessage({ q: current, from: me });
    setTimeout(() => {
      settled = true;
      resolve(current);
    }, QUESTION_MS);
  });
}
