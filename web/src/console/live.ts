// The console's live state: one WebSocket to /ws/console (docs/protocol.md),
// the visitor list, unread counts, open dialogs and the outbox of messages
// not yet acknowledged. Views subscribe and read; they never touch the socket.

import type { Attachment } from '../protocol/Attachment';
import type { ChatMessage } from '../protocol/ChatMessage';
import type { ConsoleIn } from '../protocol/ConsoleIn';
import type { ConsoleOut } from '../protocol/ConsoleOut';
import type { Conversation } from '../protocol/Conversation';
import type { ErrorBody } from '../protocol/ErrorBody';
import type { Me } from '../protocol/Me';
import type { NoticeReason } from '../protocol/NoticeReason';
import type { ScreencastState } from '../protocol/ScreencastState';
import type { Teammate } from '../protocol/Teammate';
import type { VisitorInfo } from '../protocol/VisitorInfo';
import { type Adoptable, newClientId, type SocketState } from '../shared/socket';
import { api } from './api';
import { cmpId, observeServerTime } from './format';
import { type FeedListener, SocketFeed, type WatchFeed } from './screencast/feed';

/** What changed, so views redraw only that. */
export type Change =
  | { kind: 'visitors' } // the list (entries, order, unread)
  | { kind: 'dialog'; visitorId: string } // messages or pending messages of one dialog
  | { kind: 'conn' }
  | { kind: 'me' }
  | { kind: 'screencast'; visitorId: string } // the broadcast state or the notice of one visitor
  | { kind: 'screencast-ready'; visitorId: string } // a broadcast this console asked for went live
  | { kind: 'typing'; visitorId: string } // the visitor started or stopped typing
  | { kind: 'conversation'; visitorId: string }; // assigned, closed or reopened (the list changes too)

export interface Dialog {
  /** Confirmed messages by id. */
  messages: Map<string, ChatMessage>;
  /** Whether the server's history (`dialog`) arrived. */
  loaded: boolean;
  /** The newest message the visitor's widget has shown ("Seen"). */
  seen: string | null;
}

/** How long "typing…" shows without a fresh `typing` frame. */
const TYPING_SHOWN_MS = 5000;
/** How often this console tells a visitor it types. */
const TYPING_EVERY_MS = 2000;

export interface Pending {
  clientId: string;
  visitorId: string;
  body: string;
  /** A file uploaded already, sent with the message. */
  attachment?: Attachment;
  createdAt: number;
  /** `failed`: the server rejected it (the error says why); it is not resent. */
  state: 'pending' | 'failed';
  error?: string;
}

export type ConnState = 'connecting' | 'open' | 'reconnecting' | 'refused';

/** Why a broadcast was refused or ended, as the server said it (`screencast_notice`). */
export interface ScreencastNotice {
  reason: NoticeReason;
  detail: string;
  /** Local time it arrived. */
  at: number;
  /** Whether this console asked for that broadcast. */
  mine: boolean;
}

/** The server's text limit for a message body (characters). */
export const MAX_BODY = 4000;

export class Live implements WatchFeed {
  me: Me;
  /** Everyone the console knows about: online visitors and recent dialogs. */
  readonly visitors = new Map<string, VisitorInfo>();
  /** Conversations that left "open, unassigned" (see `conversation`). */
  private readonly conversations = new Map<string, Conversation>();
  /** Who a conversation can be handed to. */
  team: Teammate[] = [];
  /** This consultant's unread visitor messages per dialog. */
  readonly unread = new Map<string, number>();
  readonly dialogs = new Map<string, Dialog>();
  /** Sent or to be sent, until the `ack`; survives reconnects (not page reloads). */
  readonly outbox = new Map<string, Pending>();
  /** The dialog on screen, if any. */
  openId: string | null = null;
  conn: ConnState = 'connecting';
  connDetail = '';
  /** Whether the first snapshot arrived. */
  ready = false;
  /** The broadcast state per visitor, as the server last said it (see `screencastState`). */
  private readonly screencast = new Map<string, ScreencastState>();
  /** The latest notice per visitor, until dismissed. */
  readonly notices = new Map<string, ScreencastNotice>();
  /** When each visitor who said No may be asked again (local clock). */
  private readonly retryAt = new Map<string, number>();
  /** Visitors whose broadcast this console asked for and that has not gone live yet. */
  private readonly requested = new Set<string>();
  /** Visitors whose broadcast this console asked for, until it ends. */
  private readonly mine = new Set<string>();
  /** The console socket; screencast views may watch through it too (WatchFeed). */
  private readonly feed: SocketFeed;
  private everOpen = false;
  /** Client ids sent on this connection and not acknowledged, in send order (errors answer in order). */
  private inflight: string[] = [];
  private listeners = new Set<(c: Change) => void>();
  /** Visitors typing now: until when their last `typing` counts. */
  private readonly typingUntil = new Map<string, number>();
  private typingSent: { visitorId: string; at: number } | null = null;
  private readonly onFocus = () => this.markReadIfLooking();

  /** `adopt`: a console socket opened earlier to start from (the screencast window's early.js). */
  constructor(
    me: Me,
    private readonly hooks: {
      onError(e: ErrorBody): void;
      onUnauthorized(): void;
      /** A visitor wrote in a dialog not on screen; `first`: their first message. */
      onVisitorMessage?(m: ChatMessage, first: boolean): void;
    },
    adopt?: Adoptable | null,
  ) {
    this.me = me;
    this.feed = new SocketFeed(adopt);
    // First listener: the console's own state is current before any view hears the frame.
    this.feed.listen({
      onOpen: () => this.onOpen(),
      onMessage: (m) => this.onMessage(m),
      onState: (s, d) => this.onState(s, d),
    });
    addEventListener('focus', this.onFocus);
    document.addEventListener('visibilitychange', this.onFocus);
  }

  subscribe(f: (c: Change) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private emit(c: Change): void {
    for (const f of this.listeners) f(c);
  }

  /** Ends the connection for good (logout). */
  close(): void {
    removeEventListener('focus', this.onFocus);
    document.removeEventListener('visibilitychange', this.onFocus);
    this.listeners.clear();
    this.feed.close();
  }

  // ---- the raw connection, for a screencast view watching through it (WatchFeed)

  get isOpen(): boolean {
    return this.feed.isOpen;
  }

  get socketState(): SocketState {
    return this.feed.socketState;
  }

  sendFrame(m: ConsoleIn): boolean {
    return this.feed.sendFrame(m);
  }

  listen(l: FeedListener): () => void {
    return this.feed.listen(l);
  }

  // ---- screen broadcast

  /**
   * What the screencast button shows. A live broadcast stays `active` while its
   * tab is between pages (the visitor is briefly offline then); otherwise an
   * offline visitor is `unavailable`.
   */
  screencastState(visitorId: string): ScreencastState {
    const v = this.visitors.get(visitorId);
    const s = this.screencast.get(visitorId) ?? v?.screencast ?? 'unavailable';
    if (s === 'active') return 'active';
    if (!v || !v.online) return 'unavailable';
    return s === 'unavailable' ? 'idle' : s;
  }

  /** Asks to see the visitor's tab. */
  requestScreencast(visitorId: string): void {
    this.requested.add(visitorId);
    this.mine.add(visitorId);
    if (this.notices.delete(visitorId)) this.emit({ kind: 'screencast', visitorId });
    if (!this.feed.sendFrame({ t: 'screencast_request', visitor_id: visitorId })) {
      this.requested.delete(visitorId);
      this.hooks.onError({ code: 'internal', message: 'not connected: try again when the connection is back', ref_type: 'screencast_request' });
    }
  }

  /** Ends the broadcast (or withdraws the request). */
  stopScreencast(visitorId: string): void {
    this.requested.delete(visitorId);
    this.feed.sendFrame({ t: 'screencast_stop', visitor_id: visitorId });
  }

  /** Hides a notice. */
  dismissNotice(visitorId: string): void {
    if (this.notices.delete(visitorId)) this.emit({ kind: 'screencast', visitorId });
  }

  /** After the visitor's "No": whole seconds until they may be asked again (0: now). */
  retryIn(visitorId: string): number {
    const at = this.retryAt.get(visitorId);
    if (at === undefined) return 0;
    const left = Math.ceil((at - Date.now()) / 1000);
    if (left <= 0) this.retryAt.delete(visitorId);
    return Math.max(0, left);
  }

  /** Whether this console asked for the visitor's broadcast and is waiting for it. */
  isRequested(visitorId: string): boolean {
    return this.requested.has(visitorId);
  }

  private onScreencast(visitorId: string, state: ScreencastState): void {
    this.screencast.set(visitorId, state);
    const v = this.visitors.get(visitorId);
    if (v && v.screencast !== state) this.visitors.set(visitorId, { ...v, screencast: state });
    let ready = false;
    if (state === 'active' && this.requested.delete(visitorId)) ready = true;
    else if (state === 'idle' || state === 'unavailable') {
      this.requested.delete(visitorId);
      this.mine.delete(visitorId);
    }
    this.emit({ kind: 'screencast', visitorId });
    if (ready) this.emit({ kind: 'screencast-ready', visitorId });
  }

  private onNotice(visitorId: string, reason: NoticeReason, detail: string): void {
    this.notices.set(visitorId, { reason, detail, at: Date.now(), mine: this.mine.has(visitorId) });
    this.requested.delete(visitorId);
    this.emit({ kind: 'screencast', visitorId });
  }

  // ---- actions

  /** Shows a dialog: asks the server for its history and marks it read. */
  open(visitorId: string): void {
    this.openId = visitorId;
    if (!this.dialogs.has(visitorId)) this.dialogs.set(visitorId, { messages: new Map(), loaded: false, seen: null });
    this.feed.sendFrame({ t: 'open', visitor_id: visitorId });
    if (this.unread.get(visitorId)) {
      this.unread.delete(visitorId);
      this.emit({ kind: 'visitors' });
    }
    this.emit({ kind: 'dialog', visitorId });
  }

  /** No dialog on screen. */
  closeDialog(): void {
    this.openId = null;
  }

  /** Queues a consultant message; it shows as pending until the `ack`. */
  send(visitorId: string, body: string, attachment?: Attachment): void {
    const p: Pending = { clientId: newClientId(), visitorId, body, attachment, createdAt: Date.now(), state: 'pending' };
    this.outbox.set(p.clientId, p);
    this.transmit(p);
    this.emit({ kind: 'dialog', visitorId });
  }

  /** Sends a failed message again. */
  retry(clientId: string): void {
    const p = this.outbox.get(clientId);
    if (!p) return;
    p.state = 'pending';
    p.error = undefined;
    this.transmit(p);
    this.emit({ kind: 'dialog', visitorId: p.visitorId });
  }

  /** Drops a failed message. */
  discard(clientId: string): void {
    const p = this.outbox.get(clientId);
    if (!p) return;
    this.outbox.delete(clientId);
    this.emit({ kind: 'dialog', visitorId: p.visitorId });
  }

  /** Pending messages of one dialog, oldest first. */
  pendingFor(visitorId: string): Pending[] {
    return [...this.outbox.values()].filter((p) => p.visitorId === visitorId).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Total unread, for the title. */
  totalUnread(): number {
    let n = 0;
    for (const c of this.unread.values()) n += c;
    return n;
  }

  /** Whether the consultant is looking at this dialog right now. */
  isLooking(visitorId: string): boolean {
    return this.openId === visitorId && document.visibilityState === 'visible' && document.hasFocus();
  }

  /** Sends `read` for the open dialog if it has unread messages and the window has focus. */
  markReadIfLooking(): void {
    const id = this.openId;
    if (!id || !this.isLooking(id) || !this.unread.get(id)) return;
    this.unread.delete(id);
    this.feed.sendFrame({ t: 'read', visitor_id: id });
    this.emit({ kind: 'visitors' });
  }

  // ---- socket

  private transmit(p: Pending): void {
    const frame: ConsoleIn = { t: 'send', visitor_id: p.visitorId, client_id: p.clientId, body: p.body };
    if (p.attachment) frame.attachment_id = p.attachment.id;
    if (this.feed.sendFrame(frame)) {
      this.inflight.push(p.clientId);
    }
  }

  private onState(s: SocketState, detail?: string): void {
    let next: ConnState;
    if (s === 'open') next = 'open';
    else if (s === 'refused') next = 'refused';
    else next = this.everOpen ? 'reconnecting' : 'connecting';
    if (s !== 'open') this.inflight = [];
    this.connDetail = detail ?? '';
    if (next !== this.conn) {
      this.conn = next;
      this.emit({ kind: 'conn' });
    }
  }

  private onOpen(): void {
    this.everOpen = true;
    this.inflight = [];
    // The server sends the snapshot first; re-open the dialog on screen for
    // what we missed, and resend whatever was not acknowledged (the server de-dupes).
    if (this.openId) this.feed.sendFrame({ t: 'open', visitor_id: this.openId });
    for (const p of this.outbox.values()) {
      if (p.state === 'pending') this.transmit(p);
    }
  }

  private onMessage(m: ConsoleOut): void {
    switch (m.t) {
      case 'snapshot':
        this.conversations.clear();
        for (const c of m.conversations) this.conversations.set(c.visitor_id, c);
        this.team = m.team;
        return this.onSnapshot(m.me, m.visitors, m.unread);
      case 'conversation':
        return this.onConversation(m.conversation);
      case 'visitor':
        return this.onVisitor(m.visitor);
      case 'dialog':
        return this.onDialog(m.visitor_id, m.messages, m.seen);
      case 'message':
        observeServerTime(m.message.at);
        return this.onChatMessage(m.message, true);
      case 'ack':
        observeServerTime(m.message.at);
        return this.onAck(m.client_id, m.message);
      case 'read':
        if (this.unread.delete(m.visitor_id)) this.emit({ kind: 'visitors' });
        return;
      case 'typing':
        return this.onTyping(m.visitor_id);
      case 'seen':
        return this.onSeen(m.visitor_id, m.message_id);
      case 'screencast':
        return this.onScreencast(m.visitor_id, m.state);
      case 'screencast_notice':
        if (m.retry_in_secs) this.retryAt.set(m.visitor_id, Date.now() + m.retry_in_secs * 1000);
        return this.onNotice(m.visitor_id, m.reason, m.detail);
      case 'error':
        return this.onServerError(m);
    }
  }

  private onSnapshot(me: Me, visitors: VisitorInfo[], unread: { visitor_id: string; count: number }[]): void {
    this.me = me;
    const keep = this.openId ? this.visitors.get(this.openId) : undefined;
    this.visitors.clear();
    this.screencast.clear();
    for (const v of visitors) {
      this.visitors.set(v.visitor_id, v);
      this.screencast.set(v.visitor_id, v.screencast);
    }
    if (keep && !this.visitors.has(keep.visitor_id)) this.visitors.set(keep.visitor_id, keep);
    this.unread.clear();
    for (const u of unread) if (u.count > 0) this.unread.set(u.visitor_id, u.count);
    // The dialog on screen is being re-opened (and so read).
    if (this.openId) this.unread.delete(this.openId);
    this.ready = true;
    this.emit({ kind: 'me' });
    this.emit({ kind: 'visitors' });
  }

  private onConversation(c: Conversation): void {
    const old = this.conversations.get(c.visitor_id);
    // Frames from different servers may cross: the later change holds.
    if (old && old.updated_at > c.updated_at) return;
    this.conversations.set(c.visitor_id, c);
    this.emit({ kind: 'conversation', visitorId: c.visitor_id });
    this.emit({ kind: 'visitors' });
  }

  // ---- conversations

  /** Where a conversation is: open and nobody's unless the server said otherwise. */
  conversation(visitorId: string): Conversation {
    return this.conversations.get(visitorId) ??
      { visitor_id: visitorId, state: 'open', assignee_id: null, assignee_name: null, updated_at: 0 };
  }

  /** Asks the server for the team again (accounts added since the snapshot). */
  async refreshTeam(): Promise<void> {
    try {
      const team = await api.team();
      if (JSON.stringify(team) === JSON.stringify(this.team)) return;
      this.team = team;
      this.emit({ kind: 'me' });
    } catch {
      // The snapshot's list stays; the next dialog asks again.
    }
  }

  /** Gives a conversation to a teammate, or to nobody (`null`). */
  assign(visitorId: string, userId: string | null): void {
    this.sendOrComplain({ t: 'assign', visitor_id: visitorId, user_id: userId });
  }

  /** Closes a conversation, or opens it again. */
  setClosed(visitorId: string, closed: boolean): void {
    this.sendOrComplain({ t: closed ? 'close' : 'reopen', visitor_id: visitorId });
  }

  private sendOrComplain(m: ConsoleIn): void {
    if (!this.feed.sendFrame(m)) {
      this.hooks.onError({ code: 'internal', message: 'not connected: try again when the connection is back', ref_type: m.t });
    }
  }

  private onVisitor(v: VisitorInfo): void {
    const old = this.visitors.get(v.visitor_id);
    // Keep the newer last message: `message` frames may have arrived first.
    if (old?.last_message && (!v.last_message || cmpId(old.last_message.id, v.last_message.id) > 0)) {
      v = { ...v, last_message: old.last_message };
    }
    // A `visitor` frame carries the broadcast state too, but a tab that comes back
    // from another page is listed as `idle` just before the `screencast` frame
    // says it is still live: only explicit frames end a pending or live broadcast.
    const known = this.screencast.get(v.visitor_id);
    if (!(known === 'active' || known === 'pending') || v.screencast === 'active' || v.screencast === 'pending') {
      this.screencast.set(v.visitor_id, v.screencast);
    }
    if (!v.online && !v.last_message && v.visitor_id !== this.openId) {
      // Offline without a dialog: nothing to show.
      if (!old) return;
      this.visitors.delete(v.visitor_id);
    } else {
      this.visitors.set(v.visitor_id, v);
    }
    this.emit({ kind: 'visitors' });
  }

  private onDialog(visitorId: string, messages: ChatMessage[], seen: string | null): void {
    let d = this.dialogs.get(visitorId);
    if (!d) {
      d = { messages: new Map(), loaded: false, seen: null };
      this.dialogs.set(visitorId, d);
    }
    d.loaded = true;
    if (seen !== null && (d.seen === null || cmpId(seen, d.seen) > 0)) d.seen = seen;
    for (const msg of messages) d.messages.set(msg.id, msg);
    for (const msg of messages) this.settle(msg);
    const last = messages[messages.length - 1];
    if (last) this.bumpLast(last);
    // `open` marks the dialog read for this consultant.
    if (visitorId === this.openId) this.unread.delete(visitorId);
    this.emit({ kind: 'dialog', visitorId });
    this.emit({ kind: 'visitors' });
  }

  /** Whether the visitor is typing now. */
  isTyping(visitorId: string): boolean {
    return (this.typingUntil.get(visitorId) ?? 0) > Date.now();
  }

  /** The consultant pressed a key in this visitor's reply box: tells the visitor, every 2 s at most. */
  typing(visitorId: string): void {
    const now = Date.now();
    const last = this.typingSent;
    if (last && last.visitorId === visitorId && now - last.at < TYPING_EVERY_MS) return;
    if (this.feed.sendFrame({ t: 'typing', visitor_id: visitorId })) this.typingSent = { visitorId, at: now };
  }

  private onTyping(visitorId: string): void {
    const was = this.isTyping(visitorId);
    this.typingUntil.set(visitorId, Date.now() + TYPING_SHOWN_MS);
    setTimeout(() => {
      if (this.typingUntil.has(visitorId) && !this.isTyping(visitorId)) this.stopTyping(visitorId);
    }, TYPING_SHOWN_MS + 50);
    if (!was) this.emit({ kind: 'typing', visitorId });
  }

  private stopTyping(visitorId: string): void {
    if (this.typingUntil.delete(visitorId)) this.emit({ kind: 'typing', visitorId });
  }

  private onSeen(visitorId: string, messageId: string): void {
    const d = this.dialogs.get(visitorId);
    if (!d || (d.seen !== null && cmpId(messageId, d.seen) <= 0)) return;
    d.seen = messageId;
    this.emit({ kind: 'dialog', visitorId });
  }

  private onChatMessage(msg: ChatMessage, live: boolean): void {
    if (live && msg.author === 'visitor') this.stopTyping(msg.visitor_id);
    const d = this.dialogs.get(msg.visitor_id);
    const seen = d?.messages.has(msg.id);
    if (d) d.messages.set(msg.id, msg);
    const mine = this.settle(msg);
    const first = !this.visitors.get(msg.visitor_id)?.last_message;
    this.bumpLast(msg);
    if (!seen && live && msg.author === 'visitor') {
      // On screen with focus: read at once (the server counts it otherwise).
      if (this.isLooking(msg.visitor_id)) this.feed.sendFrame({ t: 'read', visitor_id: msg.visitor_id });
      else {
        this.unread.set(msg.visitor_id, (this.unread.get(msg.visitor_id) ?? 0) + 1);
        this.hooks.onVisitorMessage?.(msg, first);
      }
    }
    if (!seen || mine) {
      this.emit({ kind: 'dialog', visitorId: msg.visitor_id });
      this.emit({ kind: 'visitors' });
    }
  }

  private onAck(clientId: string, msg: ChatMessage): void {
    this.inflight = this.inflight.filter((c) => c !== clientId);
    // The stored message carries our client id; make sure, since it keys the pending copy.
    if (msg.client_id !== clientId) msg = { ...msg, client_id: clientId };
    this.onChatMessage(msg, false);
  }

  /** Removes a stored message from the outbox; returns whether it was ours. */
  private settle(msg: ChatMessage): boolean {
    if (msg.author !== 'consultant' || !msg.client_id) return false;
    const had = this.outbox.delete(msg.client_id);
    if (had) this.inflight = this.inflight.filter((c) => c !== msg.client_id);
    return had;
  }

  /** Keeps the list's "last message" current from live messages. */
  private bumpLast(msg: ChatMessage): void {
    const v = this.visitors.get(msg.visitor_id);
    if (!v) return;
    if (!v.last_message || cmpId(v.last_message.id, msg.id) < 0) {
      this.visitors.set(msg.visitor_id, { ...v, last_message: msg });
    }
  }

  private onServerError(e: ErrorBody): void {
    if (e.code === 'unauthorized') {
      this.hooks.onUnauthorized();
      return;
    }
    // A screencast view watching through this connection handles its own refusals.
    if (e.ref_type === 'watch') return;
    // Errors answer frames in order: a rejected `send` is the oldest one in flight.
    if (e.ref_type === 'send' && this.inflight.length) {
      const clientId = this.inflight.shift()!;
      const p = this.outbox.get(clientId);
      if (p) {
        p.state = 'failed';
        p.error = e.message;
        this.emit({ kind: 'dialog', visitorId: p.visitorId });
      }
    }
    if (e.ref_type === 'open' && e.code === 'unknown_visitor' && this.openId) {
      const d = this.dialogs.get(this.openId);
      if (d && !d.loaded) {
        d.loaded = true;
        this.emit({ kind: 'dialog', visitorId: this.openId });
      }
    }
    this.hooks.onError(e);
  }
}
