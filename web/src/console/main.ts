// The consultant console: login, the inbox (visitors and dialogs) and, for
// admins, the Sites and Team pages. Hash routes:
//   #/            the inbox           #/chat/<visitor_id>  a dialog
//   #/admin/sites sites (admin)       #/admin/team         the team (admin)
//   #/admin/audit screen broadcast audit trail (admin)
//   #/chat/<visitor_id>/<message_id>   a dialog scrolled to a message
//   #/search/<words>                   search across every transcript
//   #/replies                          the team's saved replies

import type { Me } from '../protocol/Me';
import { api, setUnauthorizedHandler } from './api';
import { renderAccount, renderSites, renderTeam } from './admin';
import { renderAudit } from './audit';
import { renderSearch } from './search';
import { renderCanned } from './canned';
import { h, setAttr, setText } from './dom';
import { Inbox } from './inbox';
import { Live } from './live';
import { logo, renderLogin } from './login';
import { bootScreencastPage } from './screencast/page';
import { Notifier } from './notify';
import { toast } from './toast';

const root = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));

type Route = { page: 'inbox'; visitorId: string | null; messageId?: string } | { page: 'search'; q: string } | { page: 'replies' } | { page: 'sites' } | { page: 'team' } | { page: 'audit' } | { page: 'account' };

function parseRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, '');
  const parts = hash.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  if (parts[0] === 'chat' && parts[1]) return { page: 'inbox', visitorId: parts[1], messageId: parts[2] };
  if (parts[0] === 'search') return { page: 'search', q: parts[1] ?? '' };
  if (parts[0] === 'replies') return { page: 'replies' };
  if (parts[0] === 'account') return { page: 'account' };
  if (parts[0] === 'admin') return parts[1] === 'team' ? { page: 'team' } : parts[1] === 'audit' ? { page: 'audit' } : { page: 'sites' };
  return { page: 'inbox', visitorId: null };
}

/** The logged-in app: top bar, inbox, admin pages. */
class App {
  private readonly live: Live;
  private readonly inbox: Inbox;
  private readonly notifier: Notifier;
  private readonly outlet: HTMLElement;
  private readonly adminOutlet: HTMLElement;
  private readonly conn: HTMLElement;
  private readonly connText: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly who: HTMLElement;
  private readonly navBadge: HTMLElement;
  private readonly adminLinks: HTMLElement[];
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly onHash = () => this.route();
  private adminPage: string | null = null;
  private closed = false;

  constructor(private me: Me) {
    this.notifier = new Notifier(me.id, (id) => {
      location.hash = `#/chat/${encodeURIComponent(id)}`;
    });
    this.live = new Live(me, {
      onError: (e) => toast(e.message ? e.message[0].toUpperCase() + e.message.slice(1) : e.code),
      onUnauthorized: () => this.sessionEnded(),
      onVisitorMessage: (m, first) => this.notifier.visitorMessage(m, first),
    });
    this.inbox = new Inbox(this.live, {
      openDialog: (id) => {
        const target = `#/chat/${encodeURIComponent(id)}`;
        if (location.hash === target) this.route();
        else location.hash = target;
      },
      closeDialog: () => {
        location.hash = '#/';
      },
    });
    this.conn = h('span', { class: 'conn', 'data-testid': 'connection-state', 'data-state': 'connecting', role: 'status' });
    this.connText = h('span', { class: 'conn-text' }, 'Connecting…');
    this.conn.append(h('span', { class: 'conn-dot', 'aria-hidden': 'true' }), this.connText);
    this.navBadge = h('span', { class: 'nav-badge', hidden: true, 'data-testid': 'total-unread' });
    this.adminLinks = [
      h('a', { href: '#/admin/sites', 'data-route': 'sites', 'data-testid': 'nav-sites' }, 'Sites'),
      h('a', { href: '#/admin/team', 'data-route': 'team', 'data-testid': 'nav-team' }, 'Team'),
      h('a', { href: '#/admin/audit', 'data-route': 'audit', 'data-testid': 'nav-audit' }, 'Audit'),
    ];
    this.who = h('a', { class: 'who', href: '#/account', 'data-route': 'account', 'data-testid': 'me', title: 'Your account and sessions' });
    const logout = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'logout', onclick: () => this.logout() }, 'Log out');
    const topbar = h('header', { class: 'topbar' },
      h('a', { class: 'brand', href: '#/', 'aria-label': 'Chatcast inbox' }, logo(), h('span', null, 'Chatcast')),
      h('nav', { class: 'nav', 'aria-label': 'Console' },
        h('a', { href: '#/', 'data-route': 'inbox', 'data-testid': 'nav-inbox' }, 'Inbox', this.navBadge),
        h('a', { href: '#/search', 'data-route': 'search', 'data-testid': 'nav-search' }, 'Search'),
        h('a', { href: '#/replies', 'data-route': 'replies', 'data-testid': 'nav-replies', title: 'Saved replies' }, 'Replies'),
        this.adminLinks,
      ),
      h('span', { class: 'spacer' }),
      this.conn,
      this.notifier.el,
      this.who,
      logout,
    );
    this.banner = h('div', { class: 'banner', hidden: true, role: 'status' });
    this.adminOutlet = h('div', { class: 'admin-outlet', hidden: true });
    this.outlet = h('div', { class: 'outlet' }, this.inbox.el, this.adminOutlet);
    root.replaceChildren(h('div', { class: 'shell' }, topbar, this.banner, this.outlet));
    root.classList.remove('boot');

    this.live.subscribe((c) => {
      if (c.kind === 'conn') this.drawConn();
      if (c.kind === 'me') {
        this.me = this.live.me;
        this.drawMe();
      }
      if (c.kind === 'visitors') this.drawUnread();
    });
    this.drawMe();
    this.drawConn();
    this.timer = setInterval(() => this.inbox.tick(), 15_000);
    addEventListener('hashchange', this.onHash);
    this.route();
  }

  private route(): void {
    if (this.closed) return;
    const r = parseRoute();
    const isAdmin = this.me.role === 'admin';
    for (const a of this.outlet.ownerDocument.querySelectorAll<HTMLAnchorElement>('.nav a')) {
      const active = a.dataset.route === r.page;
      setAttr(a, 'aria-current', active ? 'page' : null);
    }
    if (r.page === 'inbox') {
      this.adminOutlet.hidden = true;
      this.adminPage = null;
      this.inbox.el.hidden = false;
      this.inbox.show(r.visitorId, r.messageId);
      return;
    }
    this.inbox.hide();
    this.inbox.el.hidden = true;
    this.adminOutlet.hidden = false;
    if (r.page === 'account') {
      this.adminPage = 'account';
      renderAccount(this.adminOutlet, this.me);
      return;
    }
    if (r.page === 'replies') {
      this.adminPage = 'replies';
      renderCanned(this.adminOutlet);
      return;
    }
    if (r.page === 'search') {
      // Typing updates the URL without a hashchange; only a navigation renders the page.
      if (this.adminPage !== 'search') renderSearch(this.adminOutlet, r.q);
      this.adminPage = 'search';
      return;
    }
    if (!isAdmin) {
      this.adminPage = null;
      this.adminOutlet.replaceChildren(h('div', { class: 'page' }, h('h1', null, 'Admins only'),
        h('p', { class: 'muted' }, 'Ask an admin of your team to change sites or the team.'), h('a', { href: '#/' }, 'Back to the inbox')));
      return;
    }
    if (this.adminPage === r.page) return;
    this.adminPage = r.page;
    if (r.page === 'sites') renderSites(this.adminOutlet);
    else if (r.page === 'audit') renderAudit(this.adminOutlet);
    else renderTeam(this.adminOutlet, this.me.email);
    this.adminOutlet.querySelector('h1')?.setAttribute('tabindex', '-1');
    (this.adminOutlet.querySelector('h1') as HTMLElement | null)?.focus({ preventScroll: true });
  }

  private drawMe(): void {
    setText(this.who, this.me.name || this.me.email);
    setAttr(this.who, 'title', `${this.me.email} · ${this.me.role}`);
    for (const a of this.adminLinks) a.hidden = this.me.role !== 'admin';
  }

  private drawConn(): void {
    const s = this.live.conn;
    setAttr(this.conn, 'data-state', s);
    const text = { connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', refused: 'Disconnected' }[s];
    setText(this.connText, text);
    setAttr(this.conn, 'title', s === 'refused' && this.live.connDetail ? this.live.connDetail : text);
    const problem = s === 'reconnecting' || s === 'refused';
    this.banner.hidden = !problem;
    this.banner.dataset.state = s;
    if (s === 'reconnecting') {
      setText(this.banner, 'Connection lost. Reconnecting… replies you send now go out as soon as it is back.');
    } else if (s === 'refused') {
      this.banner.replaceChildren(
        `The server refused the connection${this.live.connDetail ? `: ${this.live.connDetail}` : ''}. `,
        h('button', { type: 'button', class: 'btn btn-link', onclick: () => location.reload() }, 'Reload'),
      );
    }
    this.inbox.el.classList.toggle('stale', problem);
  }

  private drawUnread(): void {
    const n = this.live.totalUnread();
    document.title = n > 0 ? `(${n}) Chatcast` : 'Chatcast';
    this.navBadge.hidden = n === 0;
    setText(this.navBadge, String(n));
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    removeEventListener('hashchange', this.onHash);
    this.inbox.destroy();
    this.live.close();
  }

  private async logout(): Promise<void> {
    this.teardown();
    try {
      await api.logout();
    } catch {
      /* the cookie may already be gone */
    }
    current = null;
    showLogin();
  }

  sessionEnded(): void {
    if (this.closed) return;
    this.teardown();
    current = null;
    showLogin('Your session has ended. Log in again to continue.');
  }
}

let current: App | null = null;

function showLogin(notice?: string): void {
  document.title = 'Chatcast';
  root.classList.remove('boot');
  renderLogin(root, () => void boot(), notice);
}

async function boot(): Promise<void> {
  let me: Me | null;
  try {
    me = await api.me();
  } catch (e) {
    root.classList.remove('boot');
    root.replaceChildren(h('main', { class: 'login-page' }, h('div', { class: 'login-card' },
      h('h1', null, 'The server cannot be reached'),
      h('p', { class: 'muted' }, e instanceof Error ? e.message : String(e)),
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => void boot() }, 'Try again'),
    )));
    return;
  }
  if (!me) {
    showLogin();
    return;
  }
  current = new App(me);
}

if (document.body.dataset.page === 'screencast') {
  // The screencast window (static/screencast.html): dialog and live replica of one visitor.
  bootScreencastPage(root);
} else {
  setUnauthorizedHandler(() => current?.sessionEnded());
  void boot();
}
