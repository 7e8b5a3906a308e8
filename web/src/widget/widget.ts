// The visitor's chat: identity (token), the transcript, the outbox, page
// changes, and the unread badge. Speaks /ws/visitor as docs/protocol.md says.

import type { ChatMessage } from '../protocol/ChatMessage';
import type { Attachment } from '../protocol/Attachment';
import type { Contact } from '../protocol/Contact';
import type { WidgetSettings } from '../protocol/WidgetSettings';
import type { ErrorBody } from '../protocol/ErrorBody';
import type { PageInfo } from '../protocol/PageInfo';
import type { PrivacySettings } from '../protocol/PrivacySettings';
import type { VisitorIn } from '../protocol/VisitorIn';
import type { VisitorOut } from '../protocol/VisitorOut';
import { ReconnectingSocket, newClientId, type SocketState } from '../shared/socket';
import type { WidgetConfig } from './config';
import { Outbox, type OutboxItem } from './outbox';
import { clientInfo, currentPage, samePage, watchPage } from './page';
import { Store } from './storage';
import { tabId } from './tab';
import { MAX_BODY_CHARS, WidgetUI, countChars, looksLikeEmail, type ConnView, type ViewItem } from './ui';
import { T, useLanguage, visitorText } from './i18n';
import { previewText } from '../shared/attachment';

/** How often "typing" may be sent while the visitor types. */
const TYPING_EVERY_MS = 2000;
/** How long "… is typing" shows without a fresh `typing`. */
const TYPING_SHOWN_MS = 5000;

/** Errors that say a `send` can never succeed as it is: it leaves the outbox. */
const FINAL_SEND_ERRORS = new Set(['message_too_long', 'empty_message', 'bad_message']);

interface Failed extends OutboxItem {
  error: string;
}

export class ChatWidget {
  private readonly local: Store;
  private readonly session: Store;
  private readonly outbox: Outbox;
  private readonly ui: WidgetUI;
  private socket: ReconnectingSocket<VisitorIn, VisitorOut> | null = null;
  private tab: string | null = null;

  /** The dialog as the server last told it, by message id. */
  private readonly messages = new Map<string, ChatMessage>();
  /** Own messages the server rejected (shown, not resent). */
  private failed: Failed[] = [];
  /** Client ids sent on the current socket and not answered yet, oldest first. */
  private inflight: string[] = [];
  /** `welcome` arrived on the current socket. */
  private ready = false;
  private everWelcomed = false;
  private everFailed = false;
  private lastPage: PageInfo | null = null;
  /** The site's privacy rules (from `welcome`; cached for the next page's `hello`). */
  private rules: PrivacySettings | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private conn: ConnView = 'connecting';
  private lastActivated = 0;
  private typingSent = 0;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  /** The newest message id the server was told this widget showed (on this socket). */
  private seenSent: string | null = null;
  /** How the site's widget looks and speaks (from `welcome`; cached for the next page). */
  private settings: WidgetSettings | null;
  /** Nobody of the site is online. */
  private away = false;
  /** The server emails answers to visitors who are away. */
  private byEmail = false;
  /** What the visitor said about themselves. */
  private contact: Contact = { name: null, email: null };
  /** Shows the widget held back until the site's look and words are known (null: shown). */
  private reveal: (() => void) | null = null;
  /** Said while the socket was down: sent after the next `welcome`. */
  private unsentContact: { name: string | null; email: string } | null = null;

  constructor(private readonly config: WidgetConfig) {
    this.local = new Store('localStorage', `chatcast:${config.siteKey}:`);
    this.session = new Store('sessionStorage', `chatcast:${config.siteKey}:`);
    this.outbox = new Outbox(this.local);
    this.rules = readRules(this.local.get('privacy'));
    this.settings = readSettings(this.local.get('settings'));

    this.ui = new WidgetUI(config.serverUrl, {
      onSend: (text) => guard(() => this.send(text)),
      onAttach: (file) => guard(() => void this.attach(file)),
      onPrechat: (name, email) => guard(() => this.giveContact(name, email)),
      onTyping: () =>
        guard(() => {
          // Only that a key was pressed, every 2 s at most; never the text.
          if (Date.now() - this.typingSent < TYPING_EVERY_MS) return;
          if (this.sendFrame({ t: 'typing' })) this.typingSent = Date.now();
        }),
      onOpenChange: (open) =>
        guard(() => {
          this.session.set('open', open ? '1' : '0');
          if (open) this.markSeen();
          this.updateUnread();
        }),
      onTeaserDismiss: () =>
        guard(() => {
          const latest = this.unreadMessages().pop();
          if (latest) this.session.set('teaser-dismissed', latest.id);
        }),
    });
    this.ui.setConnection('connecting');
    this.applySettings();
    // Shown in the site's own colour, corner and words, not in the defaults
    // first: on a first page once `welcome` says what they are; on a later
    // page in another language once its words are here (a moment: the pack
    // is cached). Shown after 3 s whatever happens.
    const lang = this.settings?.language;
    if (!this.settings || (lang && lang !== 'en')) {
      this.ui.host.style.setProperty('visibility', 'hidden', 'important');
      const timer = setTimeout(() => this.reveal?.(), 3000);
      this.reveal = () => {
        clearTimeout(timer);
        this.reveal = null;
        this.ui.host.style.setProperty('visibility', 'visible', 'important');
      };
      if (lang && lang !== 'en') void this.switchLanguage(lang).finally(() => this.reveal?.());
    }
    this.ui.mount();
    this.ui.setOpen(this.session.get('open') === '1');
    // What this tab showed on the previous page, until the server's `welcome`
    // replaces it: navigating between pages does not blank the transcript.
    const cached = this.loadCachedHistory();
    if (cached) {
      for (const m of cached) this.messages.set(m.id, m);
      this.ui.setLoaded(true);
    }
    this.render({ scroll: true });
    this.updateUnread();

    const connect = (tab: string | null) =>
      guard(() => {
        this.tab = tab;
        this.socket = new ReconnectingSocket<VisitorIn, VisitorOut>(config.socketUrl, {
          onOpen: () => guard(() => this.onOpen()),
          onMessage: (msg) => guard(() => this.onMessage(msg)),
          onState: (state) => guard(() => this.onState(state)),
        });
      });
    tabId(this.session, config.siteKey).then(connect, () => connect(null));

    watchPage(() => this.sendPageIfChanged());
    addEventListener('storage', (ev) => guard(() => this.onStorage(ev)));
    // The console shows the page of the visitor's most recently used tab.
    const activated = () =>
      guard(() => {
        if (document.visibilityState !== 'visible') return;
        // focus and visibilitychange usually come together: one frame is enough.
        if (Date.now() - this.lastActivated > 1000) this.sendPageIfChanged(true);
        this.lastActivated = Date.now();
        if (this.ui.isOpen()) this.markSeen();
        this.updateUnread();
      });
    document.addEventListener('visibilitychange', activated);
    addEventListener('focus', activated);
  }

  // ---- extension points (for other parts of the widget, e.g. the screen broadcast) ----

  private readonly frameListeners = new Set<(msg: VisitorOut) => void>();
  private readonly readyListeners = new Set<() => void>();

  /** Every frame from the server, after the chat handled it. */
  onFrame(fn: (msg: VisitorOut) => void): void {
    this.frameListeners.add(fn);
  }

  /** After each `welcome` (every (re)connection): frames may be sent. */
  onReady(fn: () => void): void {
    this.readyListeners.add(fn);
  }

  /** Sends a frame if the socket is open and welcomed; false otherwise. */
  /** What the site said of the visitor, sent again on every connection. */
  private identity: Extract<VisitorIn, { t: 'identify' }> | null = null;

  sendFrame(msg: VisitorIn): boolean {
    return this.ready && !!this.socket?.send(msg);
  }

  /** Sends a binary frame (screen data) if the socket is open and welcomed; false otherwise. */
  sendBinary(data: ArrayBuffer | Uint8Array): boolean {
    return this.ready && !!this.socket?.sendBinary(data);
  }

  private readonly lostListeners = new Set<() => void>();

  /** When a welcomed socket stops being usable (closed, reconnecting). */
  onConnectionLost(fn: () => void): void {
    this.lostListeners.add(fn);
  }

  /** Whether the server welcomed the current socket. */
  get isReady(): boolean {
    return this.ready;
  }

  /** A place in the panel, above the transcript, for blocks such as a consent request. */
  get noticeArea(): HTMLElement {
    return this.ui.notices;
  }

  /** A place beside the launcher, visible whether the panel is open or closed. */
  get cornerArea(): HTMLElement {
    return this.ui.corner;
  }

  /** Tells screen-reader users something (polite). */
  announce(text: string): void {
    this.ui.announce(text);
  }

  /** A place over the whole page, inside the widget's shadow root (the "what stays hidden" preview). */
  get overlayArea(): HTMLElement {
    return this.ui.overlay;
  }

  /** The widget's host element (not part of the page: never mirror it). */
  get hostElement(): HTMLElement {
    return this.ui.host;
  }

  /** Opens the panel (e.g. to show a notice). */
  openPanel(): void {
    if (this.ui.isOpen()) return;
    this.ui.setOpen(true);
    this.session.set('open', '1');
    this.markSeen();
    this.updateUnread();
  }

  /** Folds the panel away (to the launcher), e.g. while the page is shown with what stays hidden. */
  closePanel(): void {
    if (!this.ui.isOpen()) return;
    this.ui.setOpen(false);
    this.session.set('open', '0');
    this.updateUnread();
  }

  /** Whether the panel is open. */
  get panelOpen(): boolean {
    return this.ui.isOpen();
  }

  // ---- socket ---------------------------------------------------------------

  private onOpen(): void {
    this.ready = false;
    this.inflight = [];
    const page = currentPage(this.keepParams());
    this.lastPage = page;
    // Read the token fresh: another tab may have received one meanwhile.
    const hello = { t: 'hello' as const, token: this.local.get('token'), page, tab_id: this.tab, client: clientInfo(this.keepParams()) };
    this.socket?.send(hello);
  }

  private onState(state: SocketState): void {
    if (state !== 'open') {
      const wasReady = this.ready;
      this.ready = false;
      this.inflight = [];
      if (wasReady) for (const fn of this.lostListeners) guard(() => fn());
    }
    let view: ConnView;
    if (state === 'refused') {
      view = 'refused';
      this.ui.setLoaded(true);
    } else if (state === 'open' && this.ready) {
      view = 'open';
    } else {
      if (state === 'closed') this.everFailed = true;
      view = this.everWelcomed || this.everFailed ? 'reconnecting' : 'connecting';
    }
    this.setConn(view);
  }

  private setConn(view: ConnView): void {
    if (view === this.conn) return;
    this.conn = view;
    this.ui.setConnection(view);
  }

  private onMessage(msg: VisitorOut): void {
    switch (msg.t) {
      case 'welcome':
        this.onWelcome(msg);
        break;
      case 'support':
        this.away = !msg.online;
        this.updateContact();
        break;
      case 'message':
        if (msg.message.author === 'consultant') this.showTyping(null);
        this.onChatMessage(msg.message);
        break;
      case 'typing':
        this.showTyping(msg.name);
        break;
      case 'ack':
        this.onAck(msg.client_id, msg.message);
        break;
      case 'error':
        this.onServerError(msg);
        break;
    }
    for (const fn of this.frameListeners) guard(() => fn(msg));
    if (msg.t === 'welcome') for (const fn of this.readyListeners) guard(() => fn());
  }

  private showTyping(name: string | null): void {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = name === null ? null : setTimeout(() => this.showTyping(null), TYPING_SHOWN_MS);
    this.ui.setTyping(name);
  }

  /**
   * `Chatcast.identify({ id, name?, email?, signature? })`: the site says who
   * the visitor is; `signature` (hex HMAC-SHA256 of `id` with the site's
   * identity secret, made on the site's server) makes the console trust it.
   */
  identify(who: unknown): void {
    const w = (who ?? {}) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : null);
    const id = text(w.id);
    if (!id) {
      console.warn('[chatcast] identify needs an id');
      return;
    }
    this.identity = { t: 'identify', id, name: text(w.name), email: text(w.email), signature: text(w.signature) };
    if (this.ready) this.sendFrame(this.identity);
  }

  private onWelcome(msg: Extract<VisitorOut, { t: 'welcome' }>): void {
    const { token, messages: history, privacy: rules } = msg;
    this.local.set('token', token);
    this.settings = msg.settings;
    this.local.set('settings', JSON.stringify(msg.settings));
    this.away = !msg.support_online;
    this.byEmail = msg.emails_answers;
    this.contact = msg.contact;
    void this.switchLanguage(msg.settings.language).finally(() => this.reveal?.());
    this.applySettings();
    this.seenSent = null;
    this.rules = rules ?? null;
    this.local.set('privacy', JSON.stringify(rules ?? null));
    this.ready = true;
    if (this.identity) this.sendFrame(this.identity);
    if (this.unsentContact) this.giveContact(this.unsentContact.name, this.unsentContact.email);
    this.everWelcomed = true;
    this.setConn('open');

    this.messages.clear();
    for (const m of history) this.messages.set(m.id, m);
    this.ui.setLoaded(true);
    this.saveCachedHistory();
    // Anything of ours already in the history is stored: no need to resend it.
    for (const m of history) {
      if (m.author === 'visitor' && m.client_id) this.outbox.remove(m.client_id);
    }
    this.render();
    this.updateUnread();
    this.updateContact();
    if (this.ui.isOpen()) this.markSeen();

    this.flushOutbox();
    this.sendPageIfChanged();
  }

  private onChatMessage(m: ChatMessage): void {
    const isNew = !this.messages.has(m.id);
    this.messages.set(m.id, m);
    this.saveCachedHistory();
    if (m.author === 'visitor' && m.client_id) this.outbox.remove(m.client_id);
    this.render({ scroll: isNew && m.author === 'visitor' });
    if (isNew && m.author === 'consultant' && !this.ui.isOpen()) {
      this.ui.announce(T.newMessage(m.author_name || T.support, previewText(m)));
    }
    if (this.ui.isOpen()) this.markSeen();
    this.updateUnread();
  }

  private onAck(clientId: string, m: ChatMessage): void {
    this.inflight = this.inflight.filter((c) => c !== clientId);
    this.outbox.remove(clientId);
    this.messages.set(m.id, m);
    this.saveCachedHistory();
    this.render();
    if (this.ui.isOpen()) this.markSeen();
  }

  private onServerError(err: ErrorBody): void {
    if (err.ref_type === 'send') {
      // Frames on one socket are answered in order, so the oldest unanswered
      // send is the one; prefer one the error obviously fits.
      const items = this.outbox.all().filter((x) => this.inflight.includes(x.client_id));
      const fits = (x: OutboxItem) => {
        const n = countChars(x.body.trim());
        if (err.code === 'message_too_long') return n > MAX_BODY_CHARS;
        if (err.code === 'empty_message') return n === 0;
        return true;
      };
      const item = items.find(fits) ?? items[0];
      if (item) this.inflight = this.inflight.filter((c) => c !== item.client_id);
      if (FINAL_SEND_ERRORS.has(err.code)) {
        const text = describeSendError(err);
        if (item) {
          this.outbox.remove(item.client_id);
          this.failed.push({ ...item, error: text });
          this.render({ scroll: true });
        }
        this.ui.showError(text);
        return;
      }
      if (err.code === 'rate_limited') {
        // Nothing is lost: the message stays in the outbox and goes out a little later.
        this.ui.showError(T.slowDown);
        this.scheduleRetry();
        return;
      }
      // not_ready and the like: the message stays in the outbox and goes out after `welcome`.
      return;
    }
    if (err.code === 'rate_limited') {
      // The socket closes next (4029) and comes back by itself after a pause.
      this.ui.showError(T.paused);
      console.warn(`[chatcast] ${err.message}`);
      return;
    }
    if (err.code === 'internal') {
      // The server could not store something; nothing was lost on our side. Try again soon.
      this.scheduleRetry();
      return;
    }
    if (err.ref_type === 'contact') {
      // The server refused the address: ask again.
      this.contact = { ...this.contact, email: null };
      this.updateContact();
      this.ui.showError(T.badEmail);
      return;
    }
    if (err.code === 'unknown_site' || err.code === 'origin_not_allowed') return; // the socket reports the refusal
    console.warn(`[chatcast] server error ${err.code}: ${err.message}`);
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      guard(() => {
        this.inflight = [];
        this.flushOutbox();
      });
    }, 3000);
  }

  // ---- sending ----------------------------------------------------------------

  private send(text: string): void {
    const body = text.trim();
    if (!body) return;
    this.typingSent = 0; // the message ends the typing: the next keystroke says so again
    const n = countChars(body);
    if (n > MAX_BODY_CHARS) {
      this.ui.showError(T.tooLong(n, MAX_BODY_CHARS));
      return;
    }
    if (this.conn === 'refused') {
      this.ui.showError(T.unavailableNow);
      return;
    }
    // Nobody online: the address typed beside the message goes first (it is optional).
    const email = this.ui.typedEmail();
    if (email) {
      if (!looksLikeEmail(email)) {
        this.ui.showError(T.badEmail);
        return;
      }
      this.giveContact(null, email);
    }
    const item: OutboxItem = { client_id: newClientId(), body, at: Date.now() };
    this.outbox.add(item);
    this.ui.showError(null);
    this.ui.clearInput();
    this.render({ scroll: true });
    if (this.ready) this.transmit(item);
  }

  private transmit(item: OutboxItem): void {
    const frame: VisitorIn = { t: 'send', client_id: item.client_id, body: item.body };
    if (item.attachment) frame.attachment_id = item.attachment.id;
    if (this.socket?.send(frame)) {
      if (!this.inflight.includes(item.client_id)) this.inflight.push(item.client_id);
    }
  }

  /**
   * Uploads a file for the visitor (`POST /files`, with their token: the site's
   * page may post a form there without a preflight), then sends it as a message.
   */
  private async attach(file: File): Promise<void> {
    const token = this.local.get('token');
    if (!this.ready || !token) {
      this.ui.showError(T.notConnected);
      return;
    }
    this.ui.showError(null);
    this.ui.announce(T.uploading(file.name));
    const form = new FormData();
    form.append('token', token);
    form.append('file', file, file.name);
    let answer: { error?: { message?: string } } & Partial<Attachment>;
    try {
      const url = new URL(`files?site=${encodeURIComponent(this.config.siteKey)}`, this.config.serverUrl);
      const res = await fetch(url, { method: 'POST', body: form, credentials: 'omit', mode: 'cors' });
      answer = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(answer.error?.message || T.uploadFailed);
    } catch (e) {
      this.ui.showError((e as Error)?.message && !(e instanceof TypeError) ? (e as Error).message : T.uploadFailed);
      return;
    }
    const item: OutboxItem = { client_id: newClientId(), body: '', at: Date.now(), attachment: answer as Attachment };
    this.outbox.add(item);
    this.render({ scroll: true });
    this.updateContact();
    if (this.ready) this.transmit(item);
  }

  /** Sends everything still unacknowledged, in order (safe: the server de-duplicates). */
  private flushOutbox(): void {
    if (!this.ready) return;
    for (const item of this.outbox.all()) this.transmit(item);
  }

  /** The site's privacy rules as last heard (null before the first `welcome` on this site). */
  get privacy(): PrivacySettings | null {
    return this.rules;
  }

  private keepParams(): string[] {
    return this.rules?.keep_url_params ?? [];
  }

  private sendPageIfChanged(force = false): void {
    if (!this.ready) return; // the next `hello` carries the page
    const page = currentPage(this.keepParams());
    if (!force && samePage(this.lastPage, page)) return;
    if (this.socket?.send({ t: 'page', page })) this.lastPage = page;
  }

  // ---- other tabs -------------------------------------------------------------

  private onStorage(ev: StorageEvent): void {
    if (this.outbox.isEvent(ev)) this.render();
    if (this.local.isEvent(ev, 'seen') || this.local.isClear(ev)) this.updateUnread();
  }

  // ---- the site's settings, and who the visitor is ------------------------------

  /** Draws everything again in `lang` once its words are here. */
  private async switchLanguage(lang: string): Promise<void> {
    if (!(await useLanguage(lang, this.config.serverUrl, this.config.nonce))) return;
    guard(() => {
      this.ui.relabel();
      this.render();
      this.updateUnread();
    });
  }

  private applySettings(): void {
    const s = this.settings;
    this.ui.setLook({
      // The site's colour, else the script tag's `data-color`.
      accent: s?.color || this.config.accent,
      side: s?.position === 'left' ? 'left' : 'right',
      greeting: s?.greeting ?? '',
      offlineText: s?.offline_text ?? '',
    });
  }

  /** Tells the server the visitor's name and address (pre-chat form, or the address for answers). */
  private giveContact(name: string | null, email: string): void {
    this.contact = { name: name ?? this.contact.name, email };
    this.unsentContact = this.sendFrame({ t: 'contact', name, email }) ? null : { name, email };
    this.updateContact();
  }

  private updateContact(): void {
    const wrote = [...this.messages.values()].some((m) => m.author === 'visitor') || this.outbox.all().length > 0;
    this.ui.setContact({
      away: this.away && this.ready,
      email: this.contact.email,
      byEmail: this.byEmail,
      prechat: !!this.settings?.prechat && this.ready && !this.contact.email && !wrote,
    });
  }

  // ---- drawing ----------------------------------------------------------------

  private render(opts: { scroll?: boolean } = {}): void {
    const stored = [...this.messages.values()].sort((a, b) => cmpId(a.id, b.id));
    const storedClientIds = new Set(
      stored.filter((m) => m.author === 'visitor' && m.client_id).map((m) => m.client_id as string),
    );
    const items: ViewItem[] = stored.map((m) => ({
      key: 'm:' + m.id,
      altKey: m.author === 'visitor' && m.client_id ? 'c:' + m.client_id : null,
      author: m.author,
      authorName: m.author === 'consultant' ? m.author_name : null,
      body: visitorText(m),
      at: m.at,
      state: m.author === 'visitor' ? 'sent' : null,
      kind: m.kind ?? null,
      attachment: m.attachment ?? null,
    }));
    const unstored: ViewItem[] = [];
    for (const f of this.failed) {
      if (storedClientIds.has(f.client_id)) continue;
      unstored.push({ key: 'c:' + f.client_id, altKey: null, author: 'visitor', authorName: null, body: f.body, at: f.at, state: 'failed', error: f.error, attachment: f.attachment });
    }
    for (const o of this.outbox.all()) {
      if (storedClientIds.has(o.client_id)) continue;
      unstored.push({ key: 'c:' + o.client_id, altKey: null, author: 'visitor', authorName: null, body: o.body, at: o.at, state: 'pending', attachment: o.attachment });
    }
    unstored.sort((a, b) => a.at - b.at);
    this.ui.render(items.concat(unstored), opts);
  }

  // ---- unread -----------------------------------------------------------------

  /** The panel is open: everything shown so far counts as seen (in every tab). */
  private markSeen(): void {
    if (document.visibilityState === 'hidden') return; // open in a tab nobody looks at
    let max: string | null = null;
    for (const id of this.messages.keys()) if (max === null || cmpId(id, max) > 0) max = id;
    if (max === null) return;
    const seen = this.local.get('seen');
    if (seen === null || cmpId(max, seen) > 0) this.local.set('seen', max);
    // The consultant's "Seen": shown to a person, not just received.
    if ((this.seenSent === null || cmpId(max, this.seenSent) > 0) && this.sendFrame({ t: 'seen', message_id: max })) {
      this.seenSent = max;
    }
  }

  /** Consultant messages newer than what the visitor has seen, oldest first. */
  private unreadMessages(): ChatMessage[] {
    const seen = this.local.get('seen');
    return [...this.messages.values()]
      .filter((m) => m.author === 'consultant' && (seen === null || cmpId(m.id, seen) > 0))
      .sort((a, b) => cmpId(a.id, b.id));
  }

  private updateUnread(): void {
    if (this.ui.isOpen()) {
      this.ui.setUnread(0);
      this.ui.setTeaser(null);
      return;
    }
    const unread = this.unreadMessages();
    this.ui.setUnread(unread.length);
    const latest = unread[unread.length - 1];
    this.ui.setTeaser(
      latest && latest.id !== this.session.get('teaser-dismissed')
        ? { name: latest.author_name || T.support, body: previewText(latest) }
        : null,
    );
  }

  // ---- history cache (this tab) ----------------------------------------------

  private loadCachedHistory(): ChatMessage[] | null {
    const raw = this.session.get('history');
    if (!raw) return null;
    try {
      const list: unknown = JSON.parse(raw);
      if (!Array.isArray(list)) return null;
      return list.filter(
        (m): m is ChatMessage =>
          !!m && typeof m === 'object' && typeof m.id === 'string' && typeof m.body === 'string' &&
          (m.author === 'visitor' || m.author === 'consultant' || m.author === 'system'),
      );
    } catch {
      return null;
    }
  }

  private saveCachedHistory(): void {
    const list = [...this.messages.values()].sort((a, b) => cmpId(a.id, b.id)).slice(-100);
    this.session.set('history', JSON.stringify(list));
  }
}

/** Compares server ids: numeric when both are digits, else as strings. */
function cmpId(a: string, b: string): number {
  const da = /^\d+$/.test(a);
  const db = /^\d+$/.test(b);
  if (da && db) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) return x.length - y.length;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function describeSendError(err: ErrorBody): string {
  switch (err.code) {
    case 'message_too_long':
      return T.tooLongShort(MAX_BODY_CHARS);
    case 'empty_message':
      return T.empty;
    default:
      return err.message || T.notSentAtAll;
  }
}

/** Runs a callback from the page's event loop; the widget never throws into the page. */
function guard(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    console.warn('[chatcast] widget error:', e);
  }
}

/** The cached widget settings, if they parse. */
function readSettings(text: string | null): WidgetSettings | null {
  if (!text) return null;
  try {
    const s = JSON.parse(text);
    return s && typeof s === 'object' && typeof s.language === 'string' ? (s as WidgetSettings) : null;
  } catch {
    return null;
  }
}

/** The cached privacy rules, if they parse. */
function readRules(text: string | null): PrivacySettings | null {
  if (!text) return null;
  try {
    const r = JSON.parse(text);
    return r && typeof r === 'object' && Array.isArray(r.keep_url_params) ? (r as PrivacySettings) : null;
  } catch {
    return null;
  }
}
