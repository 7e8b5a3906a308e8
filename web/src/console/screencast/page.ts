// The screencast window (`/console/screencast.html?visitor=<id>`): the
// dialog with the visitor beside the live replica of their tab. It has its
// own console connection (same session cookie), which sends `watch` and
// receives the screen frames; closing the window closes it (the server
// stops recording when nobody has watched for a while).

import type { Me } from '../../protocol/Me';
import { api, sentence, setUnauthorizedHandler } from '../api';
import { DialogView } from '../dialog';
import { h } from '../dom';
import { visitorCode } from '../format';
import { Live } from '../live';
import { renderLogin } from '../login';
import { toast } from '../toast';
import { takeEarly } from './early';
import { Replica } from './replica';
import type { Adoptable } from '../../shared/socket';
import { markEnded, markEnding } from './window';

export function bootScreencastPage(root: HTMLElement): void {
  const visitorId = new URLSearchParams(location.search).get('visitor')?.trim() ?? '';
  let teardown: (() => void) | null = null;

  const fail = (title: string, text: string) => {
    root.classList.remove('boot');
    root.replaceChildren(h('main', { class: 'login-page' }, h('div', { class: 'login-card' },
      h('h1', null, title), h('p', { class: 'muted' }, text),
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => void boot() }, 'Try again'),
    )));
  };

  /** `wasIn`: a session was in use (else this window was opened without one). */
  const sessionEnded = (wasIn = true) => {
    teardown?.();
    teardown = null;
    root.classList.remove('boot');
    renderLogin(root, () => void boot(), wasIn ? 'Your session has ended. Log in again to continue.' : undefined);
  };
  setUnauthorizedHandler(() => sessionEnded());

  async function boot(): Promise<void> {
    if (!visitorId) {
      fail('No visitor', 'This window shows one visitor’s screen: open it from a dialog in the console.');
      return;
    }
    // early.js already has a socket (which only a logged-in console gets, and
    // whose snapshot says who is logged in): start on it without waiting for /api/me.
    const early = takeEarly();
    if (early) {
      start({ id: '', email: '', name: '', role: 'consultant' }, early);
      return;
    }
    let me: Me | null;
    try {
      me = await api.me();
    } catch (e) {
      fail('The server cannot be reached', e instanceof Error ? e.message : String(e));
      return;
    }
    if (!me) {
      root.classList.remove('boot');
      renderLogin(root, () => void boot());
      return;
    }
    start(me);
  }

  function start(me: Me, early: Adoptable | null = null): void {
    const code = visitorCode(visitorId);
    // The socket early.js opened (its `watch` already answered, perhaps), if any.
    const live = new Live(me, {
      onError: (e) => toast(sentence(e.message) || e.code),
      // Started on early.js's socket before knowing who is logged in: the
      // snapshot fills `me` in; refused before one came, nobody was.
      onUnauthorized: () => sessionEnded(live.me.id !== ''),
    }, early);
    const dialog = new DialogView(live, visitorId, {
      drafts: new Map(),
      embedded: true,
      onBack: () => undefined,
      onEscape: () => undefined,
    });
    const unsubscribe = live.subscribe((c) => dialog.onChange(c));
    // Closes the window soon, letting a last frame (stop) leave first. The
    // opener sees the mark at once and opens a fresh window if asked meanwhile.
    const closeSoon = () => {
      markEnding(window);
      setTimeout(() => window.close(), 150);
    };
    const replica = new Replica(live, visitorId, {
      onStop: closeSoon,
      // Refused before anything was shown: the console's dialog shows the notice.
      onRefused: closeSoon,
      onClose: () => window.close(),
      onInfo: ({ url, status }) => {
        markEnded(window, status === 'ended');
        let where = url;
        try {
          const u = new URL(url);
          where = u.host + u.pathname;
        } catch {
          /* keep it */
        }
        document.title = `${status === 'ended' ? 'Ended' : 'Screen'} · Visitor ${code}${where ? ` · ${where}` : ''} · Chatcast`;
      },
    });
    dialog.attachReplica(replica.el);
    root.classList.remove('boot');
    root.replaceChildren(h('div', { class: 'sc-page', 'data-testid': 'screencast-view', 'data-mode': 'window', 'data-visitor-id': visitorId }, dialog.el));
    live.open(visitorId);
    replica.start();
    dialog.focusInput();

    const onHide = () => teardown?.();
    addEventListener('pagehide', onHide);
    teardown = () => {
      removeEventListener('pagehide', onHide);
      unsubscribe();
      replica.destroy();
      dialog.destroy();
      live.close();
    };
  }

  void boot();
}
