// The main view: visitors online and recent dialogs on the left, the open
// dialog on the right. Keyboard: ↑/↓ move through the list, Enter opens,
// Alt+↑/↓ switch dialogs from anywhere, Esc goes back to the list, / filters.

import { previewText } from '../shared/attachment';
import type { VisitorInfo } from '../protocol/VisitorInfo';
import { type InboxView, VIEWS, inView, ownerText } from './conversation';
import { DialogView } from './dialog';
import { h, isTyping, reconcileChildren, setAttr, setText } from './dom';
import { ago, hueOf, onlineFor, shortUrl, visitorCode, visitorInitials, visitorName } from './format';
import type { Change, Live } from './live';
import { NOTICE_TEXT } from './screencast/text';
import { openPopup, panelWanted } from './screencast/window';
import { toast } from './toast';

export interface InboxNav {
  /** Navigate to a dialog (changes the URL hash; the router calls `show`). */
  openDialog(visitorId: string): void;
  /** Navigate back to the list. */
  closeDialog(): void;
}

interface ItemView {
  el: HTMLLIElement;
  title: HTMLElement;
  url: HTMLElement;
  site: HTMLElement;
  time: HTMLTimeElement;
  last: HTMLElement;
  badge: HTMLElement;
  avatar: HTMLElement;
  owner: HTMLElement;
  /** What it was last drawn from, to skip work. */
  drawn?: VisitorInfo;
  drawnUnread?: number;
}

/** How many recent dialogs show before "Show all". */
const RECENT_LIMIT = 30;
/** Where the chosen view is remembered (per browser). */
const VIEW_KEY = 'chatcast.inbox-view';

export class Inbox {
  readonly el: HTMLElement;
  private readonly onlineList: HTMLUListElement;
  private readonly recentList: HTMLUListElement;
  private readonly onlineCount: HTMLElement;
  private readonly recentCount: HTMLElement;
  private readonly onlineEmpty: HTMLElement;
  private readonly recentSection: HTMLElement;
  private readonly recentMore: HTMLButtonElement;
  private readonly filter: HTMLInputElement;
  private readonly main: HTMLElement;
  private readonly items = new Map<string, ItemView>();
  private readonly drafts = new Map<string, string>();
  private readonly toasted = new Map<string, number>();
  private dialog: DialogView | null = null;
  private focusId: string | null = null;
  private showAllRecent = false;
  private view: InboxView = savedView();
  private readonly viewTabs = new Map<InboxView, { el: HTMLButtonElement; count: HTMLElement }>();
  private order: string[] = [];
  private dirty = false;
  private unsubscribe: () => void;
  private readonly onKey = (e: KeyboardEvent) => this.globalKey(e);

  constructor(
    private readonly live: Live,
    private readonly nav: InboxNav,
  ) {
    this.filter = h('input', {
      type: 'search', class: 'filter', placeholder: 'Filter by page, site or message', 'aria-label': 'Filter visitors',
      'data-testid': 'visitor-filter', spellcheck: 'false',
      oninput: () => this.render(),
      onkeydown: (e: KeyboardEvent) => {
        if (e.key === 'ArrowDown') {
          e.preventDefault();
          this.navItems()[0]?.focus();
        } else if (e.key === 'Enter') {
          e.preventDefault();
          const first = this.navItems()[0];
          if (first) this.nav.openDialog(first.dataset.visitorId!);
        } else if (e.key === 'Escape' && this.filter.value) {
          e.preventDefault();
          this.filter.value = '';
          this.render();
        }
      },
    });
    this.onlineCount = h('span', { class: 'count', 'data-testid': 'online-count' }, '0');
    this.recentCount = h('span', { class: 'count' }, '0');
    this.onlineList = h('ul', { class: 'vlist', role: 'listbox', 'aria-label': 'Visitors online', 'data-testid': 'visitor-list' });
    this.recentList = h('ul', { class: 'vlist', role: 'listbox', 'aria-label': 'Recent dialogs', 'data-testid': 'recent-list' });
    this.onlineEmpty = h('p', { class: 'list-empty' }, 'Nobody is on your sites right now.');
    this.recentMore = h('button', { type: 'button', class: 'btn btn-link more', hidden: true, onclick: () => {
      this.showAllRecent = !this.showAllRecent;
      this.render();
    } });
    this.recentSection = h('section', { class: 'vsection', 'aria-labelledby': 'recent-h' },
      h('h2', { id: 'recent-h' }, 'Recent', this.recentCount),
      this.recentList,
      this.recentMore,
    );
    const tabs = h('div', { class: 'views', role: 'tablist', 'aria-label': 'Conversations' });
    for (const { view, label, title } of VIEWS) {
      const count = h('span', { class: 'count' }, '0');
      const el = h('button', {
        type: 'button', role: 'tab', class: 'view-tab', 'data-testid': 'inbox-view', 'data-view': view, title,
        onclick: () => this.setView(view),
      }, label, count);
      this.viewTabs.set(view, { el, count });
      tabs.append(el);
    }
    const sidebar = h('aside', { class: 'sidebar', onkeydown: (e: KeyboardEvent) => this.listKey(e) },
      tabs,
      h('div', { class: 'filter-wrap' }, this.filter),
      h('div', { class: 'sidebar-scroll' },
        h('section', { class: 'vsection', 'aria-labelledby': 'online-h' },
          h('h2', { id: 'online-h' }, 'Visitors online', this.onlineCount),
          this.onlineList,
          this.onlineEmpty,
        ),
        this.recentSection,
      ),
    );
    this.main = h('div', { class: 'main-pane' });
    this.el = h('div', { class: 'inbox' }, sidebar, this.main);
    this.showEmpty();
    this.unsubscribe = live.subscribe((c) => this.onChange(c));
    document.addEventListener('keydown', this.onKey);
    this.render();
  }

  destroy(): void {
    this.unsubscribe();
    document.removeEventListener('keydown', this.onKey);
    this.dialog?.destroy();
  }

  /** Shows a dialog, or none (the router calls this); `messageId`: scroll to that message. */
  show(visitorId: string | null, messageId?: string): void {
    if (visitorId === null) {
      if (this.dialog) {
        const was = this.dialog.visitorId;
        this.dialog.destroy();
        this.dialog = null;
        this.live.closeDialog();
        this.showEmpty();
        this.render();
        // Back on the list: keep the keyboard where it was.
        this.items.get(was)?.el.focus({ preventScroll: false });
      } else {
        this.live.closeDialog();
      }
      this.el.classList.remove('has-dialog');
      return;
    }
    if (this.dialog?.visitorId !== visitorId) {
      this.dialog?.destroy();
      this.dialog = new DialogView(this.live, visitorId, {
        drafts: this.drafts,
        onBack: () => this.nav.closeDialog(),
        onEscape: () => (this.items.get(visitorId)?.el ?? this.navItems()[0] ?? this.filter).focus(),
      });
      this.main.replaceChildren(this.dialog.el);
      this.focusId = visitorId;
    }
    this.el.classList.add('has-dialog');
    if (messageId) this.dialog.focusMessage(messageId);
    this.live.open(visitorId);
    this.render();
    if (!isTyping(document.activeElement) || !this.el.contains(document.activeElement)) this.dialog.focusInput();
  }

  /** Called when the inbox leaves the screen (admin pages). */
  hide(): void {
    this.live.closeDialog();
  }

  /** Refreshes relative times. */
  tick(): void {
    for (const [id, item] of this.items) {
      const v = this.live.visitors.get(id);
      if (v) setText(item.time, timeLabel(v));
    }
    this.dialog?.tick();
  }

  private showEmpty(): void {
    this.main.replaceChildren(
      h('div', { class: 'empty-state' },
        h('div', { class: 'empty-art', 'aria-hidden': 'true' }),
        h('h2', null, 'Pick a visitor to start chatting'),
        h('p', null, 'Visitors appear on the left the moment they open a page with the widget.'),
        h('dl', { class: 'keys' },
          h('dt', null, h('kbd', null, '↑'), h('kbd', null, '↓')), h('dd', null, 'move through the list'),
          h('dt', null, h('kbd', null, 'Enter')), h('dd', null, 'open the dialog'),
          h('dt', null, h('kbd', null, 'Alt'), '+', h('kbd', null, '↑'), h('kbd', null, '↓')), h('dd', null, 'previous / next dialog (unread first)'),
          h('dt', null, h('kbd', null, 'Esc')), h('dd', null, 'from the reply box back to the list'),
          h('dt', null, h('kbd', null, '/')), h('dd', null, 'filter the list'),
        ),
      ),
    );
  }

  private setView(view: InboxView): void {
    this.view = view;
    try {
      localStorage.setItem(VIEW_KEY, view);
    } catch {
      // Storage refused (private mode): the view holds for this page.
    }
    this.showAllRecent = false;
    this.render();
  }

  private onChange(c: Change): void {
    if (c.kind === 'visitors' || c.kind === 'me') this.scheduleRender();
    if (this.dialog) this.dialog.onChange(c);
    if (c.kind === 'screencast-ready') this.screencastReady(c.visitorId);
    if (c.kind === 'screencast' && c.visitorId !== this.dialog?.visitorId) this.noticeElsewhere(c.visitorId);
  }

  /** A broadcast this console asked for went live: open its window at once. */
  private screencastReady(visitorId: string): void {
    if (this.dialog?.visitorId === visitorId && this.dialog.el.isConnected) {
      this.dialog.openScreen();
      return;
    }
    if (openPopup(visitorId)) return;
    // Popups are blocked and the dialog is not on screen: show it there when it is.
    panelWanted.add(visitorId);
    toast(`${visitorName(visitorId)} is sharing their screen: open the dialog to watch.`, 'info');
  }

  /** A refusal about a dialog that is not on screen, for a request made here. */
  private noticeElsewhere(visitorId: string): void {
    const n = this.live.notices.get(visitorId);
    if (!n || !n.mine || Date.now() - n.at > 2000 || this.toasted.get(visitorId) === n.at) return;
    this.toasted.set(visitorId, n.at);
    toast(`${visitorName(visitorId)}: ${NOTICE_TEXT[n.reason]?.text ?? n.detail}`, 'info');
  }

  /** Coalesces bursts of frames into one redraw (timers also run in background tabs, unlike animation frames). */
  private scheduleRender(): void {
    if (this.dirty) return;
    this.dirty = true;
    setTimeout(() => {
      this.dirty = false;
      this.render();
    }, 16);
  }

  private render(): void {
    const q = this.filter.value.trim().toLowerCase();
    const online: VisitorInfo[] = [];
    const recent: VisitorInfo[] = [];
    const counts = new Map<InboxView, number>(VIEWS.map((v) => [v.view, 0]));
    const me = this.live.me.id;
    for (const v of this.live.visitors.values()) {
      const c = this.live.conversation(v.visitor_id);
      // Counted: conversations (someone wrote, or the team acted on it); a visitor
      // who only browses is listed under open and unassigned, not counted.
      if (v.last_message || c.updated_at > 0) {
        for (const { view } of VIEWS) if (inView(view, c, me)) counts.set(view, counts.get(view)! + 1);
      }
      if (!inView(this.view, c, me)) continue;
      if (q && !matches(v, q)) continue;
      if (v.online) online.push(v);
      else if (v.last_message) recent.push(v);
    }
    for (const [view, tab] of this.viewTabs) {
      setAttr(tab.el, 'aria-selected', String(view === this.view));
      tab.el.classList.toggle('active', view === this.view);
      setText(tab.count, String(counts.get(view) ?? 0));
    }
    const unread = (v: VisitorInfo) => this.live.unread.get(v.visitor_id) ?? 0;
    const sort = (a: VisitorInfo, b: VisitorInfo) =>
      Number(unread(b) > 0) - Number(unread(a) > 0) || activity(b) - activity(a) || (a.visitor_id < b.visitor_id ? -1 : 1);
    online.sort(sort);
    recent.sort(sort);

    const recentShown = this.showAllRecent ? recent : recent.slice(0, RECENT_LIMIT);
    const alive = new Set<string>();
    const onlineEls = online.map((v) => this.item(v, 'online', alive));
    const recentEls = recentShown.map((v) => this.item(v, 'recent', alive));
    for (const [id, item] of this.items) {
      if (!alive.has(id)) {
        item.el.remove();
        this.items.delete(id);
      }
    }
    reconcileChildren(this.onlineList, onlineEls);
    reconcileChildren(this.recentList, recentEls);
    setText(this.onlineCount, String(online.length));
    setText(this.recentCount, String(recent.length));
    this.onlineEmpty.hidden = online.length > 0;
    const emptyText = !this.live.ready ? 'Loading visitors…'
      : q ? 'No visitor online matches the filter.'
      : this.view === 'open' ? 'Nobody is on your sites right now.'
      : recent.length ? 'No visitor of this view is online.'
      : VIEWS.find((v) => v.view === this.view)!.empty;
    setText(this.onlineEmpty, emptyText);
    this.recentSection.hidden = recent.length === 0;
    this.recentMore.hidden = recent.length <= RECENT_LIMIT;
    setText(this.recentMore, this.showAllRecent ? 'Show fewer' : `Show all ${recent.length}`);
    this.order = [...online, ...recentShown].map((v) => v.visitor_id);

    // Roving tabindex: one item of the lists is reachable with Tab.
    const focusable = this.focusId && this.items.has(this.focusId) ? this.focusId : this.order[0];
    for (const [id, item] of this.items) item.el.tabIndex = id === focusable ? 0 : -1;
  }

  private item(v: VisitorInfo, where: 'online' | 'recent', alive: Set<string>): HTMLLIElement {
    const id = v.visitor_id;
    alive.add(id);
    let it = this.items.get(id);
    if (!it) {
      it = this.newItem(id);
      this.items.set(id, it);
    }
    const unread = this.live.unread.get(id) ?? 0;
    const el = it.el;
    setAttr(el, 'data-testid', where === 'online' ? 'visitor-item' : 'recent-item');
    setAttr(el, 'aria-selected', String(this.dialog?.visitorId === id));
    el.classList.toggle('unread', unread > 0);
    el.classList.toggle('offline', !v.online);
    const owner = ownerText(this.live.conversation(id), this.live.me.id);
    setText(it.owner, owner);
    it.owner.hidden = !owner;
    if (it.drawn !== v || it.drawnUnread !== unread) {
      it.drawn = v;
      it.drawnUnread = unread;
      // Titled by who it is; where they are is a detail.
      setText(it.title, visitorName(id));
      const page = v.page_title.trim();
      setText(it.url, page && page !== shortUrl(v.page_url) ? `${page} · ${shortUrl(v.page_url)}` : shortUrl(v.page_url));
      setAttr(it.url, 'title', v.page_url);
      setText(it.site, v.site_name);
      setText(it.time, timeLabel(v));
      const at = v.online ? v.online_since : v.last_message?.at ?? v.last_seen;
      setAttr(it.time, 'datetime', at ? new Date(at).toISOString() : null);
      setText(it.badge, String(unread));
      it.badge.hidden = unread === 0;
      setAttr(it.badge, 'aria-label', `${unread} unread`);
      const lm = v.last_message;
      it.last.hidden = !lm;
      if (lm) {
        const who = lm.author === 'visitor' ? '' : lm.author === 'system' ? '' :
          lm.author_name && lm.author_name === this.live.me.name ? 'You: ' : `${lm.author_name || 'Team'}: `;
        setText(it.last, who + previewText(lm).replace(/\s+/g, ' ').slice(0, 140));
        it.last.classList.toggle('system', lm.author === 'system');
      }
    }
    return el;
  }

  private newItem(id: string): ItemView {
    const title = h('span', { class: 'vitem-title' });
    const badge = h('span', { class: 'badge', 'data-testid': 'unread-count', hidden: true }, '0');
    const url = h('span', { class: 'vitem-url' });
    const site = h('span', { class: 'vitem-site' });
    const time = h('time', { class: 'vitem-time' });
    const last = h('span', { class: 'vitem-last', 'data-testid': 'last-message' });
    const owner = h('span', { class: 'vitem-owner', 'data-testid': 'visitor-item-owner', hidden: true });
    const avatar = h('span', { class: 'avatar', 'aria-hidden': 'true', style: `--hue:${hueOf(id)}` }, visitorInitials(id));
    const el = h('li', {
      class: 'vitem', role: 'option', tabindex: '-1', 'data-visitor-id': id, 'aria-selected': 'false',
      onclick: () => this.nav.openDialog(id),
      onfocus: () => {
        this.focusId = id;
        for (const [k, other] of this.items) other.el.tabIndex = k === id ? 0 : -1;
      },
    },
      h('span', { class: 'avatar-wrap' }, avatar, h('span', { class: 'presence', 'aria-hidden': 'true' })),
      h('span', { class: 'vitem-main' },
        h('span', { class: 'vitem-row' }, title, owner, badge),
        url,
        h('span', { class: 'vitem-meta' }, site, h('span', { class: 'dot-sep', 'aria-hidden': 'true' }, '·'), time),
        last,
      ),
    );
    return { el, title, url, site, time, last, badge, avatar, owner };
  }

  /** List items in screen order. */
  private navItems(): HTMLElement[] {
    return this.order.map((id) => this.items.get(id)?.el).filter((e): e is HTMLLIElement => !!e);
  }

  private listKey(e: KeyboardEvent): void {
    const target = e.target as HTMLElement;
    if (!target.classList?.contains('vitem') || e.altKey || e.ctrlKey || e.metaKey) return;
    const list = this.navItems();
    const i = list.indexOf(target);
    let next: HTMLElement | undefined;
    switch (e.key) {
      case 'ArrowDown': next = list[Math.min(list.length - 1, i + 1)]; break;
      case 'ArrowUp':
        if (i <= 0) { e.preventDefault(); this.filter.focus(); return; }
        next = list[i - 1];
        break;
      case 'Home': next = list[0]; break;
      case 'End': next = list[list.length - 1]; break;
      case 'PageDown': next = list[Math.min(list.length - 1, i + 8)]; break;
      case 'PageUp': next = list[Math.max(0, i - 8)]; break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.nav.openDialog(target.dataset.visitorId!);
        return;
      default: return;
    }
    e.preventDefault();
    if (next) {
      next.focus();
      next.scrollIntoView({ block: 'nearest' });
    }
  }

  private globalKey(e: KeyboardEvent): void {
    if (!this.el.isConnected || this.el.offsetParent === null) return;
    if (e.altKey && !e.ctrlKey && !e.metaKey && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      // Next / previous dialog, from anywhere.
      e.preventDefault();
      const ids = this.order;
      if (!ids.length) return;
      const current = this.dialog?.visitorId;
      if (e.key === 'ArrowDown') {
        // Triage: the next dialog waiting for an answer first (the open one drops below them once read).
        const waiting = ids.find((id) => id !== current && (this.live.unread.get(id) ?? 0) > 0);
        if (waiting) {
          this.nav.openDialog(waiting);
          return;
        }
      }
      const cur = current ? ids.indexOf(current) : -1;
      const i = cur < 0 ? 0 : (cur + (e.key === 'ArrowDown' ? 1 : -1) + ids.length) % ids.length;
      this.nav.openDialog(ids[i]);
      return;
    }
    if (e.key === '/' && !isTyping(e.target) && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      this.filter.focus();
      this.filter.select();
    }
  }
}

function savedView(): InboxView {
  try {
    const v = localStorage.getItem(VIEW_KEY);
    if (VIEWS.some((x) => x.view === v)) return v as InboxView;
  } catch {
    // No storage: the default view.
  }
  return 'open';
}

function activity(v: VisitorInfo): number {
  return Math.max(v.last_message?.at ?? 0, v.online ? v.online_since ?? 0 : 0, v.online ? 0 : v.last_seen);
}

function timeLabel(v: VisitorInfo): string {
  if (v.online) return v.online_since ? onlineFor(v.online_since) : 'online';
  return `seen ${ago(v.last_seen)}`;
}

function matches(v: VisitorInfo, q: string): boolean {
  return [visitorName(v.visitor_id), v.page_title, v.page_url, v.site_name, v.last_message?.body ?? '', visitorCode(v.visitor_id), v.visitor_id]
    .some((s) => s.toLowerCase().includes(q));
}
