// One open dialog: header (who, where), the transcript, and the reply box.
// Messages are keyed so an acknowledged message replaces its pending copy in
// place, and a message that arrives twice (ack + broadcast, resend) shows once.

import type { ChatMessage } from '../protocol/ChatMessage';
import { CannedPicker } from './canned';
import { EmojiPicker } from './emoji';
import { ACCEPT, attachmentElement } from '../shared/attachment';
import { api } from './api';
import { errorText } from './admin';
import { ConversationBar } from './conversation';
import { VisitorPanel } from './visitor-panel';
import { h, icon, reconcileChildren, setAttr, setText } from './dom';
import {
  charCount, clock, cmpId, dayKey, dayLabel, fullDate, hueOf, onlineFor, ago, safeHref, shortUrl, urlHost, visitorCode, visitorInitials, visitorName,
} from './format';
import { MAX_BODY, type Change, type Live, type Pending } from './live';
import { toast } from './toast';
import { Replica } from './screencast/replica';
import { NOTICE_TEXT } from './screencast/text';
import { SocketFeed } from './screencast/feed';
import { closePopup, onPopupClosed, openPopup, panelWanted, popupFor } from './screencast/window';

const PLACEHOLDER = 'Write a reply…  / for saved replies';

interface Opts {
  drafts: Map<string, string>;
  onBack(): void;
  onEscape(): void;
  /**
   * Inside the screencast popup: the page itself is the screencast window, so
   * the header has no screencast controls and the replica slot is the caller's.
   */
  embedded?: boolean;
}

export class DialogView {
  readonly el: HTMLElement;
  private readonly title: HTMLElement;
  private readonly pageTitle: HTMLElement;
  private readonly url: HTMLAnchorElement;
  private readonly site: HTMLElement;
  private readonly status: HTMLElement;
  private readonly statusText: HTMLElement;
  private readonly log: HTMLElement;
  private readonly loading: HTMLElement;
  private readonly jump: HTMLButtonElement;
  private readonly typingNote: HTMLElement;
  /** "Seen", under the newest consultant reply the visitor's widget showed. */
  private readonly seenMark: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendBtn: HTMLButtonElement;
  private readonly hint: HTMLElement;
  private readonly counter: HTMLElement;
  private readonly nodes = new Map<string, HTMLElement>();
  private readonly scBtn: HTMLButtonElement;
  private readonly scLabel: HTMLElement;
  private readonly scEnd: HTMLButtonElement;
  private readonly noticeHost: HTMLElement;
  private readonly body: HTMLElement;
  private readonly conv: ConversationBar | null;
  private readonly canned: CannedPicker;
  private readonly panelInfo: VisitorPanel | null;
  /** Where the replica goes beside the chat (the panel, or the popup's replica). */
  private readonly replicaSlot: HTMLElement;
  private panel: { replica: Replica; feed: SocketFeed } | null = null;
  private readonly offPopupClosed: () => void;
  private lastScState = '';
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private lastCount = 0;
  /** A message to scroll to once it is drawn (a search result's). */
  private focusId: string | null = null;
  private firstDraw = true;
  private dirty = false;
  private logDirty = false;

  constructor(
    private readonly live: Live,
    readonly visitorId: string,
    private readonly opts: Opts,
  ) {
    const code = visitorCode(visitorId);
    this.title = h('h2', { class: 'dialog-title', 'data-testid': 'dialog-visitor-name', title: `Visitor ${code} (${visitorId})` }, visitorName(visitorId));
    this.pageTitle = h('span', { class: 'dialog-page', 'data-testid': 'dialog-page-title' });
    this.url = h('a', { class: 'dialog-url', target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'dialog-page-url' });
    this.site = h('span', { class: 'dialog-site', 'data-testid': 'dialog-site' });
    this.statusText = h('span');
    this.status = h('span', { class: 'dialog-status' }, h('span', { class: 'status-dot', 'aria-hidden': 'true' }), this.statusText);
    this.scLabel = h('span', { class: 'label' }, 'Screen');
    this.scBtn = h('button', {
      type: 'button', class: 'btn btn-ghost screencast-btn', 'data-testid': 'screencast-button', 'data-state': 'unavailable',
      'aria-disabled': 'true', onclick: () => this.onScreencastClick(),
    }, screenIcon(), h('span', { class: 'spinner', 'aria-hidden': 'true' }), this.scLabel);
    this.scEnd = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm screencast-end', 'data-testid': 'screencast-cancel', hidden: true,
      onclick: () => this.endScreencast(),
    }, 'Stop');
    const header = h('header', { class: 'dialog-head' },
      h('button', { type: 'button', class: 'btn btn-ghost back', 'aria-label': 'Back to visitors', 'data-testid': 'dialog-back', onclick: () => opts.onBack() }, '‹'),
      h('span', { class: 'avatar avatar-lg', 'aria-hidden': 'true', style: `--hue:${hueOf(visitorId)}` }, visitorInitials(visitorId)),
      h('div', { class: 'dialog-who' },
        this.title,
        h('div', { class: 'dialog-sub' }, this.pageTitle, h('span', { class: 'dot-sep', 'aria-hidden': 'true' }, '·'), this.url),
        h('div', { class: 'dialog-meta' }, this.site, h('span', { class: 'dot-sep', 'aria-hidden': 'true' }, '·'), this.status),
      ),
      opts.embedded ? null : h('div', { class: 'dialog-actions' }, this.scBtn, this.scEnd,
        h('button', {
          type: 'button', class: 'btn btn-ghost btn-sm details-toggle', 'data-testid': 'visitor-panel-toggle', 'aria-pressed': 'false',
          title: 'About the visitor', onclick: (e: MouseEvent) => {
            const on = this.el.classList.toggle('show-visitor-panel');
            (e.currentTarget as HTMLElement).setAttribute('aria-pressed', String(on));
          },
        }, 'Details')),
    );
    if (opts.embedded) header.querySelector('.back')?.remove();

    this.loading = h('div', { class: 'log-note' }, 'Loading the conversation…');
    this.log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation', tabindex: '0', 'data-testid': 'chat-log' });
    this.jump = h('button', { type: 'button', class: 'jump', hidden: true, onclick: () => this.scrollToEnd(true) }, 'New messages ↓');
    this.typingNote = h('div', { class: 'typing-note', 'data-testid': 'typing-indicator', 'aria-live': 'polite', hidden: true },
      `${visitorName(visitorId)} is typing…`);
    this.seenMark = h('div', { class: 'seen-mark', 'data-testid': 'message-seen', title: 'The visitor’s chat window showed this reply' }, 'Seen');
    this.log.addEventListener('scroll', () => {
      if (this.nearBottom()) this.jump.hidden = true;
    });

    this.input = h('textarea', {
      class: 'chat-input', 'data-testid': 'chat-input', rows: '1', 'aria-label': 'Reply',
      placeholder: PLACEHOLDER, title: 'Enter sends, Shift+Enter adds a line, / at the start lists saved replies',
    });
    this.input.value = opts.drafts.get(visitorId) ?? '';
    this.sendBtn = h('button', { type: 'submit', class: 'btn btn-primary send', 'data-testid': 'chat-send', 'aria-label': 'Send' }, sendIcon(), h('span', { class: 'label' }, 'Send'));
    this.counter = h('span', { class: 'counter', hidden: true });
    this.hint = h('span', { class: 'composer-hint' });
    this.canned = new CannedPicker(this.input, () => this.onInput());
    const emoji = new EmojiPicker(this.input, () => this.onInput());
    const picker = h('input', { type: 'file', accept: ACCEPT, hidden: true, 'data-testid': 'chat-file' }) as HTMLInputElement;
    const attach = h('button', {
      type: 'button', class: 'btn btn-ghost attach-btn', 'data-testid': 'attach-file', 'aria-label': 'Send a file or image', title: 'Send a file or image',
      onclick: () => picker.click(),
    }, icon('M21 11.5 12.5 20a5 5 0 0 1-7-7l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7L10.2 17.7a1.7 1.7 0 0 1-2.4-2.4L15.5 7.6')) as HTMLButtonElement;
    picker.addEventListener('change', () => {
      const file = picker.files?.[0];
      picker.value = '';
      if (file) void this.attach(file, attach);
    });
    const form = h('form', { class: 'composer' },
      this.canned.el,
      emoji.el,
      h('div', { class: 'composer-box' }, attach, picker, this.input, emoji.button, this.sendBtn),
      h('div', { class: 'composer-foot' }, this.hint, this.counter),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (e) => {
      if (!e.isComposing && this.canned.key(e)) {
        e.preventDefault();
        return;
      }
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.submit();
      } else if (e.key === 'Escape') {
        e.preventDefault();
        opts.onEscape();
      }
    });
    this.input.addEventListener('input', () => {
      this.onInput();
      this.canned.update();
      if (this.input.value.trim()) this.live.typing(this.visitorId);
    });

    const chat = h('div', { class: 'chat-col' }, h('div', { class: 'log-wrap' }, this.log, this.jump), this.typingNote, form);
    // The screen replica sits beside the chat (`replica-slot`): the panel, or the popup's replica.
    this.replicaSlot = h('aside', { class: 'replica-slot', hidden: true });
    this.noticeHost = h('div', { class: 'sc-notices', 'aria-live': 'assertive' });
    this.panelInfo = opts.embedded ? null : new VisitorPanel(visitorId);
    this.body = h('div', { class: 'dialog-body' }, chat, this.replicaSlot, this.panelInfo?.el);
    this.conv = opts.embedded ? null : new ConversationBar(live, visitorId);
    this.el = h('section', { class: 'dialog', 'data-testid': 'dialog', 'data-visitor-id': visitorId, 'aria-label': 'Dialog' },
      header, this.conv?.el, h('div', { class: 'dialog-main' }, this.body, this.noticeHost));
    this.offPopupClosed = onPopupClosed(() => this.drawScreencast());
    this.draw();
    this.onInput();
    // Popups were blocked earlier: the broadcast shows beside the chat.
    const st = live.screencastState(visitorId);
    if (!opts.embedded && panelWanted.has(visitorId) && (st === 'active' || st === 'pending')) {
      queueMicrotask(() => this.showPanel());
    }
  }

  destroy(): void {
    this.panelInfo?.destroy();
    this.saveDraft();
    this.offPopupClosed();
    this.closePanel(false);
    this.el.remove();
  }

  // ---- screen broadcast

  private onScreencastClick(): void {
    const state = this.live.screencastState(this.visitorId);
    if (state === 'unavailable') {
      // Offline: the server answers with a notice that says so.
      this.live.requestScreencast(this.visitorId);
      return;
    }
    if (state === 'idle' && this.live.retryIn(this.visitorId) > 0) {
      // The server refuses until the pause is over and its notice says why; no window to open.
      this.live.requestScreencast(this.visitorId);
      return;
    }
    if (state === 'idle') this.live.requestScreencast(this.visitorId);
    // The window opens now, while the click lets it (popup blockers allow windows
    // opened by a click only): it waits for the visitor's answer, shows the
    // replica once they allow it, and closes itself if they do not.
    this.openScreen();
  }

  private endScreencast(): void {
    this.live.stopScreencast(this.visitorId);
    closePopup(this.visitorId);
    this.closePanel(true);
  }

  /** Opens (or focuses) the screencast window: a popup, else the panel beside the chat. */
  openScreen(): void {
    if (this.opts.embedded) return;
    if (openPopup(this.visitorId)) {
      this.closePanel(true);
    } else if (this.panel) {
      this.panel.replica.el.scrollIntoView({ block: 'nearest' });
    } else {
      this.showPanel();
    }
    this.drawScreencast();
  }

  /** Puts a replica beside the chat (the screencast popup's own). */
  attachReplica(el: HTMLElement): void {
    this.replicaSlot.replaceChildren(el);
    this.replicaSlot.hidden = false;
    this.setNarrow(true);
  }

  /** The chat is a narrow column beside a replica. */
  private setNarrow(narrow: boolean): void {
    this.body.classList.toggle('with-replica', narrow);
    this.input.placeholder = narrow ? 'Write a reply…' : PLACEHOLDER;
  }

  /** The in-console screencast window (where popups are blocked). */
  showPanel(): void {
    if (this.opts.embedded || this.panel || !this.el.isConnected) return;
    panelWanted.add(this.visitorId);
    // A socket of its own: binary frames carry no visitor id, so that the
    // frames of a panel just closed (still on their way) never reach the next one.
    const feed = new SocketFeed();
    const popOut = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm sc-icon-btn', title: 'Open in a window of its own', 'aria-label': 'Open in a window of its own', 'data-testid': 'screencast-popout',
      onclick: () => {
        if (openPopup(this.visitorId)) this.closePanel(true);
      },
    }, popOutIcon());
    const close = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm sc-icon-btn sc-close', 'aria-label': 'Close the panel (the broadcast goes on)', title: 'Close the panel (the broadcast goes on)',
      'data-testid': 'screencast-close', 'data-action': 'close', onclick: () => this.closePanel(true),
    }, '×');
    const replica = new Replica(feed, this.visitorId, {
      onStop: () => this.endScreencast(),
      // Refused or impossible before it ever showed anything: the notice over the dialog says why.
      onRefused: () => this.closePanel(true),
      actions: [popOut, close],
    });
    this.panel = { replica, feed };
    this.replicaSlot.replaceChildren(replica.el);
    this.replicaSlot.hidden = false;
    this.setNarrow(true);
    setAttr(this.body, 'data-testid', 'screencast-view');
    setAttr(this.body, 'data-mode', 'panel');
    replica.start();
    this.drawScreencast();
  }

  /** Closes the panel; `forget`: do not show it again when the dialog reopens. */
  closePanel(forget: boolean): void {
    if (forget) panelWanted.delete(this.visitorId);
    if (!this.panel) return;
    this.panel.replica.destroy();
    this.panel.feed.close();
    this.panel = null;
    this.replicaSlot.replaceChildren();
    this.replicaSlot.hidden = true;
    this.setNarrow(false);
    setAttr(this.body, 'data-testid', null);
    setAttr(this.body, 'data-mode', null);
    if (this.el.isConnected) this.drawScreencast();
  }

  private drawScreencast(): void {
    const state = this.live.screencastState(this.visitorId);
    if ((state === 'idle' || state === 'unavailable') && (this.lastScState === 'active' || this.lastScState === 'pending')) {
      panelWanted.delete(this.visitorId);
    }
    this.lastScState = state;
    const watching = (state === 'active' || state === 'pending') && (!!this.panel || !!popupFor(this.visitorId));
    const b = this.scBtn;
    setAttr(b, 'data-state', state);
    setAttr(b, 'data-watching', watching ? 'true' : null);
    // Not `disabled`: pressing it anyway asks the server, which says why it cannot be (a notice).
    b.disabled = false;
    setAttr(b, 'aria-disabled', state === 'unavailable' || state === 'pending' ? 'true' : null);
    setAttr(b, 'aria-busy', state === 'pending' ? 'true' : null);
    const v = this.live.visitors.get(this.visitorId);
    const label = {
      unavailable: 'Screen',
      idle: 'Show screen',
      pending: 'Waiting for permission…',
      active: watching ? 'Watching' : 'Open screen',
    }[state];
    const title = {
      unavailable: v?.online ? 'Screen broadcast is not available right now' : 'The visitor is offline: screen broadcast needs them on the page',
      idle: "Ask to see the visitor's tab (they are asked for permission first)",
      pending: watching ? 'Waiting for the visitor to allow screen broadcast… (bring the window to the front)' : 'Waiting for the visitor to allow screen broadcast…',
      active: watching ? 'Watching the visitor’s tab: bring the window to the front' : "Open the live view of the visitor's tab",
    }[state];
    // After a "No" the button waits, counting down, and says why.
    const wait = state === 'idle' ? this.live.retryIn(this.visitorId) : 0;
    setAttr(b, 'data-retry-in', wait ? String(wait) : null);
    if (wait) {
      setAttr(b, 'aria-disabled', 'true');
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          if (this.el.isConnected) this.drawScreencast();
        }, 1000);
      }
    }
    setText(this.scLabel, wait ? `Ask again in ${wait} s` : label);
    const why = wait ? `The visitor said No. Out of respect, you can ask again in ${wait} s` : title;
    setAttr(b, 'title', why);
    setAttr(b, 'aria-label', why);
    this.scEnd.hidden = !(state === 'pending' || state === 'active');
    setText(this.scEnd, state === 'pending' ? 'Cancel' : 'Stop');
    setAttr(this.scEnd, 'title', state === 'pending' ? 'Withdraw the request' : 'End the screen broadcast');
    this.drawNotice();
  }

  private drawNotice(): void {
    const n = this.live.notices.get(this.visitorId);
    const shown = this.noticeHost.firstElementChild as HTMLElement | null;
    const key = n ? `${n.reason}|${n.detail}|${n.at}` : '';
    if ((shown?.dataset.key ?? '') === key) return;
    if (!n) {
      this.noticeHost.replaceChildren();
      return;
    }
    const t = NOTICE_TEXT[n.reason] ?? { title: 'Screen broadcast', text: '' };
    const detail = n.detail ? n.detail[0].toUpperCase() + n.detail.slice(1) : '';
    const el = h('div', { class: 'sc-notice', role: 'alert', 'data-testid': 'screencast-notice', 'data-reason': n.reason },
      h('span', { class: 'sc-notice-icon', 'aria-hidden': 'true' }, '!'),
      h('div', { class: 'sc-notice-body' },
        h('strong', null, t.title),
        h('p', null, t.text),
        detail ? h('p', { class: 'sc-notice-detail', 'data-testid': 'screencast-notice-detail' }, `${detail}.`.replace(/\.\.$/, '.')) : null,
      ),
      h('button', {
        type: 'button', class: 'sc-notice-close', 'aria-label': 'Dismiss', 'data-testid': 'screencast-notice-dismiss',
        onclick: () => this.live.dismissNotice(this.visitorId),
      }, '×'),
    );
    el.dataset.key = key;
    this.noticeHost.replaceChildren(el);
  }

  focusInput(): void {
    this.input.focus({ preventScroll: true });
  }

  tick(): void {
    this.drawHeader();
    this.panelInfo?.tick();
  }

  onChange(c: Change): void {
    if ((c.kind === 'dialog' || c.kind === 'screencast' || c.kind === 'screencast-ready' || c.kind === 'typing') && c.visitorId !== this.visitorId) return;
    if (c.kind === 'typing') {
      this.typingNote.hidden = !this.live.isTyping(this.visitorId);
      return;
    }
    if (c.kind === 'conversation') {
      if (c.visitorId === this.visitorId) this.conv?.draw();
      return;
    }
    if (c.kind === 'me') this.conv?.draw();
    // The list changes often (visitors navigating); the transcript only with its own dialog.
    if (c.kind === 'dialog' || c.kind === 'conn' || c.kind === 'me') this.logDirty = true;
    if (this.dirty) return;
    this.dirty = true;
    setTimeout(() => {
      this.dirty = false;
      this.drawHeader();
      this.drawHint();
      if (this.logDirty) {
        this.logDirty = false;
        this.drawLog();
      }
    }, 0);
  }

  private saveDraft(): void {
    const v = this.input.value;
    if (v.trim()) this.opts.drafts.set(this.visitorId, v);
    else this.opts.drafts.delete(this.visitorId);
  }

  /** Uploads a file to this dialog and sends it, with what is typed in the reply box as its text. */
  private async attach(file: File, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    setText(this.hint, `Uploading ${file.name}…`);
    try {
      const a = await api.uploadFile(this.visitorId, file);
      const body = this.input.value.trim();
      // Text too long to send stays in the box; the file goes alone.
      const withText = charCount(body) <= MAX_BODY;
      this.live.send(this.visitorId, withText ? body : '', a);
      if (withText) {
        this.input.value = '';
        this.opts.drafts.delete(this.visitorId);
      }
      this.onInput();
      this.scrollToEnd(true);
    } catch (e) {
      toast(`Not sent: ${errorText(e)}`, 'error');
    } finally {
      button.disabled = false;
      setText(this.hint, '');
      this.onInput();
    }
  }

  private submit(): void {
    const body = this.input.value.trim();
    if (!body) return;
    if (charCount(body) > MAX_BODY) {
      this.counter.hidden = false;
      this.input.focus();
      return;
    }
    this.live.send(this.visitorId, body);
    this.input.value = '';
    this.opts.drafts.delete(this.visitorId);
    this.onInput();
    this.input.focus();
    this.scrollToEnd(true);
  }

  private onInput(): void {
    // Grow with the text, up to a limit (CSS max-height scrolls beyond).
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 220)}px`;
    const n = charCount(this.input.value.trim());
    this.sendBtn.disabled = n === 0;
    this.counter.hidden = n < MAX_BODY - 500;
    setText(this.counter, `${n} / ${MAX_BODY}`);
    this.counter.classList.toggle('over', n > MAX_BODY);
    this.sendBtn.disabled = n === 0 || n > MAX_BODY;
  }

  private draw(): void {
    this.drawHeader();
    this.drawHint();
    this.drawLog();
  }

  private drawHeader(): void {
    this.drawScreencast();
    const v = this.live.visitors.get(this.visitorId);
    this.panelInfo?.refresh(v?.page_url ?? '');
    if (!v) {
      setText(this.pageTitle, '');
      setText(this.url, '');
      setText(this.site, '');
      setText(this.statusText, 'not on any page right now');
      this.el.classList.add('visitor-offline');
      return;
    }
    setText(this.pageTitle, v.page_title.trim() || 'Untitled page');
    const href = safeHref(v.page_url);
    setAttr(this.url, 'href', href);
    setAttr(this.url, 'title', v.page_url);
    setText(this.url, (urlHost(v.page_url) ? urlHost(v.page_url) : '') + shortUrl(v.page_url));
    setText(this.site, v.site_name);
    this.el.classList.toggle('visitor-offline', !v.online);
    setAttr(this.el, 'data-online', String(v.online));
    setText(this.statusText, v.online ? (v.online_since ? onlineFor(v.online_since) : 'online') : `offline, seen ${ago(v.last_seen)}`);
  }

  private drawHint(): void {
    const v = this.live.visitors.get(this.visitorId);
    let hint = '';
    if (this.live.conn !== 'open') hint = 'Not connected: replies are kept and go out when the connection is back.';
    else if (!v?.online) hint = 'The visitor is offline; they will see your reply when they come back.';
    setText(this.hint, hint);
  }

  private drawLog(): void {
    const d = this.live.dialogs.get(this.visitorId);
    const confirmed = d ? [...d.messages.values()].sort((a, b) => cmpId(a.id, b.id) || a.at - b.at) : [];
    const pending = this.live.pendingFor(this.visitorId);
    const stick = this.firstDraw || this.nearBottom();

    const nodes: HTMLElement[] = [];
    let lastDay = '';
    let prev: ChatMessage | null = null;
    const used = new Set<string>();
    let prevEl: HTMLElement | null = null;
    for (const m of confirmed) {
      const day = dayKey(m.at);
      if (day !== lastDay) {
        lastDay = day;
        nodes.push(this.dayNode(day, m.at, used));
        prev = null;
      }
      const el = this.messageNode(m, used);
      // Consecutive messages by the same person within a few minutes form a group:
      // closer together, one name and time under the last of them.
      const cont = !!prev && sameGroup(prev, m);
      el.classList.toggle('cont', cont);
      el.classList.remove('grouped');
      if (cont) prevEl?.classList.add('grouped');
      nodes.push(el);
      prev = m;
      prevEl = el;
    }
    // "Seen" goes under the newest reply the widget showed.
    const seen = d?.seen ?? null;
    let seenAt = -1;
    if (seen !== null) {
      confirmed.forEach((m, i) => {
        if (m.author === 'consultant' && cmpId(m.id, seen) <= 0) seenAt = i;
      });
    }
    if (seenAt >= 0) {
      const id = confirmed[seenAt].id;
      setAttr(this.seenMark, 'data-message-id', id);
      const after = nodes.findIndex((n) => n.dataset.id === id);
      nodes.splice(after + 1, 0, this.seenMark);
    }
    for (const p of pending) nodes.push(this.pendingNode(p, used));
    for (const [k, el] of this.nodes) if (!used.has(k)) { el.remove(); this.nodes.delete(k); }

    const showLoading = !!d && !d.loaded && confirmed.length === 0;
    if (showLoading) nodes.unshift(this.loading);
    else if (d?.loaded && confirmed.length === 0 && pending.length === 0) {
      setText(this.loading, 'No messages yet. Say hello — the visitor sees your reply in the chat widget.');
      nodes.unshift(this.loading);
    }
    reconcileChildren(this.log, nodes);

    const count = confirmed.length + pending.length;
    if (count > this.lastCount && !this.firstDraw) {
      if (stick) this.scrollToEnd(false);
      else this.jump.hidden = false;
    } else if (stick) {
      this.scrollToEnd(false);
    }
    this.lastCount = count;
    if (d?.loaded) this.firstDraw = false;
    this.scrollToFocus();
  }

  /** Scrolls to a message and marks it (now, or once the history is drawn). */
  focusMessage(id: string): void {
    this.focusId = id;
    this.scrollToFocus();
  }

  private scrollToFocus(): void {
    const id = this.focusId;
    if (!id || !this.live.dialogs.get(this.visitorId)?.loaded) return;
    this.focusId = null;
    const el = [...this.nodes.values()].find((n) => n.dataset.id === id);
    if (!el) {
      toast('That message is older than the history shown here.', 'info');
      return;
    }
    for (const other of this.log.querySelectorAll('[data-found]')) other.removeAttribute('data-found');
    el.setAttribute('data-found', 'true');
    el.scrollIntoView({ block: 'center' });
  }

  private dayNode(day: string, at: number, used: Set<string>): HTMLElement {
    const key = `d:${day}`;
    used.add(key);
    let el = this.nodes.get(key);
    if (!el) {
      el = h('div', { class: 'day', role: 'separator' }, h('span', null, dayLabel(at)));
      this.nodes.set(key, el);
    }
    return el;
  }

  private messageNode(m: ChatMessage, used: Set<string>): HTMLElement {
    const key = m.client_id && m.author === 'consultant' ? `c:${m.client_id}` : `i:${m.id}`;
    used.add(key);
    let el = this.nodes.get(key);
    const sig = `${m.id}|${m.body}|${m.author_name}|${m.attachment?.id ?? ''}`;
    if (!el || el.dataset.sig !== sig) {
      const fresh = renderMessage(m, this.live.me.name);
      fresh.dataset.sig = sig;
      if (el) el.replaceWith(fresh);
      el = fresh;
      this.nodes.set(key, el);
    }
    return el;
  }

  private pendingNode(p: Pending, used: Set<string>): HTMLElement {
    const key = `c:${p.clientId}`;
    used.add(key);
    let el = this.nodes.get(key);
    const online = this.live.conn === 'open';
    const sig = `p|${p.state}|${p.error ?? ''}|${online}`;
    if (!el || el.dataset.sig !== sig) {
      const meta = p.state === 'failed'
        ? h('div', { class: 'msg-meta failed' },
          h('span', null, `Not sent${p.error ? `: ${p.error}` : ''}`),
          h('button', { type: 'button', class: 'btn btn-link', onclick: () => this.live.retry(p.clientId) }, 'Retry'),
          h('button', { type: 'button', class: 'btn btn-link', onclick: () => this.live.discard(p.clientId) }, 'Discard'))
        : h('div', { class: 'msg-meta' }, h('span', { class: 'sending' }, online ? 'Sending…' : 'Waiting for the connection…'));
      const fresh = h('div', {
        class: `msg msg-consultant mine ${p.state}`, 'data-testid': 'chat-message', 'data-author': 'consultant',
        'data-pending': 'true', 'data-client-id': p.clientId,
      }, h('div', { class: 'bubble' }, p.attachment ? h('span', { class: 'attachment-pending' }, `📎 ${p.attachment.name}`) : null, linkify(p.body)), meta);
      fresh.dataset.sig = sig;
      if (el) el.replaceWith(fresh);
      el = fresh;
      this.nodes.set(key, el);
    }
    return el;
  }

  private nearBottom(): boolean {
    const l = this.log;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 80;
  }

  private scrollToEnd(smooth: boolean): void {
    this.jump.hidden = true;
    requestAnimationFrame(() => {
      this.log.scrollTo({ top: this.log.scrollHeight, behavior: smooth ? 'smooth' : 'auto' });
    });
    this.log.scrollTop = this.log.scrollHeight;
  }
}

function sameGroup(a: ChatMessage, b: ChatMessage): boolean {
  return a.author === b.author && a.author_name === b.author_name && b.author !== 'system' && b.at - a.at < 5 * 60_000;
}

function renderMessage(m: ChatMessage, myName: string): HTMLElement {
  const attrs = {
    'data-testid': 'chat-message', 'data-author': m.author, 'data-id': m.id,
    'data-client-id': m.client_id ?? undefined,
  };
  const time = h('time', { datetime: new Date(m.at).toISOString(), title: fullDate(m.at) }, clock(m.at));
  if (m.author === 'system') {
    return h('div', { ...attrs, class: 'msg msg-system' }, h('div', { class: 'bubble' }, linkify(m.body)), h('div', { class: 'msg-meta' }, time));
  }
  const mine = m.author === 'consultant' && !!m.author_name && m.author_name === myName;
  const who = m.author === 'visitor' ? 'Visitor' : m.author_name || 'Consultant';
  const file = m.attachment ? attachmentElement(m.attachment, location.origin + '/', 'chat-attachment') : null;
  return h('div', { ...attrs, class: `msg msg-${m.author}${mine ? ' mine' : ''}` },
    h('div', { class: 'bubble', title: `${who} · ${fullDate(m.at)}` }, file, linkify(m.body)),
    h('div', { class: 'msg-meta' }, h('span', { class: 'author' }, who), h('span', { class: 'dot-sep', 'aria-hidden': 'true' }, '·'), time),
  );
}

/** Text with http(s) links made clickable; everything else stays text. */
function linkify(text: string): (Node | string)[] {
  const out: (Node | string)[] = [];
  const re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const href = safeHref(m[0]);
    out.push(href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, m[0]) : m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function screenIcon(): SVGSVGElement {
  return icon('M3 5h18v11H3zM8 20h8M12 16v4');
}
function popOutIcon(): SVGSVGElement {
  return icon('M14 4h6v6M20 4l-9 9M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5');
}
function sendIcon(): SVGSVGElement {
  return icon('M4 12 20 4l-6 16-3-7z');
}
