// The live replica of a visitor's tab: screen frames from a console socket
// (docs/protocol.md, "Screen broadcast") rebuilt by rrweb's Replayer in live
// mode inside its sandboxed iframe (`sandbox="allow-same-origin"`, no scripts),
// scaled to fit, with the visitor's pointer and presence drawn over it.
//
// Timing: every event is restamped with this browser's clock when it arrives,
// so the visitor's clock never enters the Replayer's schedule. An event is due
// the moment it arrives and is applied at the next animation frame: no
// playback buffer. Every keyframe starts a new Replayer (the Replayer keeps
// every event it was given, rrweb #1195); the old one stays on screen until
// the new one has rebuilt the page, so a navigation does not flash.

import { Replayer } from '@rrweb/replay';
import type { eventWithTime } from '@rrweb/types';
import type { ConsoleOut } from '../../protocol/ConsoleOut';
import type { ScreencastState } from '../../protocol/ScreencastState';
import { type CodecState, decodeEvents, newCodecState } from '../../shared/screencodec';
import type { VisitorInfo } from '../../protocol/VisitorInfo';
import { h, setAttr, setText } from '../dom';
import { safeHref } from '../format';
import { takeEarlyWatch } from './early';
import type { WatchFeed } from './feed';
import { ReplicaSanitizer } from './sanitize';
import { NOTICE_TEXT, PRESENCE_TEXT, isPresence, type Presence } from './text';

// docs/protocol.md, "Binary frames"
const KIND_KEYFRAME = 1;
const KIND_DELTA = 2;
const HEADER_LEN = 5;

// rrweb event and source numbers (@rrweb/types)
const EV_INCREMENTAL = 3;
const EV_META = 4;
const EV_CUSTOM = 5;
const SRC_MOUSE_MOVE = 1;
const SRC_MOUSE_INTERACTION = 2;
const SRC_VIEWPORT_RESIZE = 4;
const SRC_TOUCH_MOVE = 6;
const SRC_DRAG = 12;
const MI_MOUSE_DOWN = 1;
const MI_CLICK = 2;
const MI_TOUCH_START = 7;

/** How long the cursor's centre stays black after a click. */
const CLICK_MS = 300;
/** The replica is never drawn larger than the visitor sees it (scale ≤ 1). */
const MAX_SCALE = 1;

/** CSS put into the replica's document. */
const REPLICA_CSS = [
  // The chat widget is blocked in recording; its placeholder would cover the page.
  '.chatcast-widget-host { display: none !important; }',
  // What the visitor's page kept private: a grey box of its size (rrweb's
  // default paints it in the text colour, a black box that reads as content).
  // rrweb sizes it with the element's border box as measured on the page:
  // border-box keeps an input's padding and border inside that size, so the
  // box and everything after it sit where they are on the visitor's screen.
  '.rr-block { background: #d5d9e0 !important; color: transparent !important; border-color: #c3c8d1 !important; box-sizing: border-box !important; }',
];

export type Status = 'connecting' | 'waiting' | 'live' | 'ended';

export interface ReplicaOptions {
  /** Stop the broadcast was pressed (the frame is sent already): close the view. */
  onStop(): void;
  /** Extra buttons for the toolbar (pop out, close panel). */
  actions?: HTMLElement[];
  /** The request was refused or impossible before anything was shown: close the view (the console shows the notice). */
  onRefused?(): void;
  /** Called when the page or status changes (for window titles). */
  onInfo?(info: { url: string; status: Status }): void;
  /** In a window of its own: once the broadcast ended, a Close button closes the window. */
  onClose?(): void;
}

interface Live {
  replayer: Replayer;
  /** Our clock at the keyframe: the Replayer's baseline. */
  t0: number;
  p0: number;
}

export class Replica {
  readonly el: HTMLElement;
  private readonly stage: HTMLElement;
  private readonly canvas: HTMLElement;
  private readonly cursor: HTMLElement;
  private readonly cursorNote: HTMLElement;
  private readonly hiddenNote: HTMLElement;
  private readonly presenceEl: HTMLElement;
  private readonly presenceText: HTMLElement;
  private readonly presenceNote: HTMLElement;
  private readonly sizeEl: HTMLElement;
  private readonly urlEl: HTMLAnchorElement;
  private readonly overlay: HTMLElement;
  private readonly stopBtn: HTMLButtonElement;
  private readonly unlisten: () => void;
  private readonly resizeObserver: ResizeObserver;
  private readonly decoder = new TextDecoder();
  /** The frame decoder's memory since the last keyframe. */
  private codec: CodecState = newCodecState();
  /** The second wall (sanitize.ts); nothing external loads until the server names the site's origins. */
  private sanitizer = new ReplicaSanitizer([]);

  private current: Live | null = null;
  private incoming: Live | null = null;
  private swapTimer: ReturnType<typeof setTimeout> | null = null;
  private lastSeq = -1;
  /** A `watch` is on its way: its keyframe (or its refusal) has not come yet. */
  private watchPending = false;
  /** Deltas after a gap in the sequence are dropped until the next keyframe. */
  private broken = false;
  /**
   * Frames that did not decode in a row, and the last one's sequence number:
   * a resync resends the same cached frames, so retries back off (1 s, 2 s,
   * 4 s) and then stop, rather than pulling megabytes in a loop.
   */
  private decodeFailures = 0;
  private failedSeq = -1;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Gave up on this broadcast's frames: nothing more is asked for until it starts anew. */
  private gaveUp = false;
  private status: Status = 'connecting';
  private state: ScreencastState | null = null;
  private online: boolean | null = null;
  private lastVisitorUrl = '';
  private url = '';
  private width = 0;
  private height = 0;
  private scale = 1;
  private pointer: { x: number; y: number } | null = null;
  private outside = false;
  /** The pointer is over an area the visitor's page keeps hidden: no position is known. */
  private overHidden = false;
  private presence: Exclude<Presence, 'reconnecting'> = 'active';
  private clickTimer: ReturnType<typeof setTimeout> | null = null;
  private endedText = '';
  private everLive = false;
  private destroyed = false;

  constructor(
    private readonly feed: WatchFeed,
    readonly visitorId: string,
    private readonly opts: ReplicaOptions,
  ) {
    this.urlEl = h('a', { class: 'sc-url', target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'replica-url' });
    this.presenceText = h('span', null, 'Active');
    this.presenceEl = h('span', { class: 'sc-presence', 'data-testid': 'replica-presence', 'data-state': 'active', role: 'status' },
      h('span', { class: 'sc-presence-dot', 'aria-hidden': 'true' }), this.presenceText);
    this.sizeEl = h('span', { class: 'sc-size', 'data-testid': 'replica-size', title: "The visitor's viewport and the scale it is shown at" }, '—');
    this.stopBtn = h('button', {
      type: 'button', class: 'btn btn-sm sc-stop', 'data-testid': 'screencast-stop', title: 'End the screen broadcast for the visitor',
      onclick: () => this.stop(),
    }, h('span', { class: 'sc-stop-square', 'aria-hidden': 'true' }), 'Stop');
    const bar = h('div', { class: 'sc-bar' },
      h('span', { class: 'sc-live', title: "Live view of the visitor's tab" }, 'Live'),
      this.presenceEl,
      this.sizeEl,
      h('span', { class: 'sc-bar-actions' }, ...(opts.actions ?? []), this.stopBtn),
    );
    // Like a browser's address bar: the page the visitor is on.
    const address = h('div', { class: 'sc-address' }, globeIcon(), this.urlEl);
    this.canvas = h('div', { class: 'sc-canvas' });
    this.cursor = h('div', { class: 'sc-cursor', 'data-testid': 'replica-cursor', 'data-state': 'hidden', 'aria-hidden': 'true' },
      h('span', { class: 'sc-cursor-dot' }));
    this.cursorNote = h('div', { class: 'sc-note sc-cursor-note', 'data-testid': 'replica-cursor-outside', hidden: true }, 'Cursor outside the page');
    this.hiddenNote = h('div', { class: 'sc-note sc-cursor-note', 'data-testid': 'replica-cursor-hidden-area', hidden: true },
      'Pointer over a hidden area');
    this.presenceNote = h('div', { class: 'sc-note sc-presence-note', hidden: true });
    this.overlay = h('div', { class: 'sc-overlay', 'data-testid': 'replica-status', role: 'status' });
    this.stage = h('div', { class: 'sc-stage' }, this.canvas, this.cursor,
      h('div', { class: 'sc-notes' }, this.presenceNote, this.cursorNote, this.hiddenNote), this.overlay);
    this.el = h('section', { class: 'sc-replica', 'aria-label': "The visitor's tab, live", 'data-visitor-id': visitorId }, bar, address, this.stage);

    this.resizeObserver = new ResizeObserver(() => this.layout());
    this.resizeObserver.observe(this.stage);
    this.unlisten = feed.listen({
      onOpen: () => {
        // After a reconnect the snapshot's state is the truth again, and an
        // earlier `watch` died with the old connection.
        this.state = null;
        this.watchPending = false;
        this.watch();
      },
      onMessage: (m) => this.onMessage(m),
      onBinary: (b) => this.onFrame(b),
      onState: () => this.drawPresence(),
    });
    this.draw();
  }

  /** Starts watching (call once the element is in the document). */
  start(): void {
    if (this.feed.isOpen) this.watch();
    this.layout();
  }

  /** Stops watching and frees the replayers. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.unlisten();
    this.feed.sendFrame({ t: 'unwatch', visitor_id: this.visitorId });
    this.resizeObserver.disconnect();
    if (this.clickTimer) clearTimeout(this.clickTimer);
    if (this.swapTimer) clearTimeout(this.swapTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.drop(this.incoming);
    this.drop(this.current);
    this.incoming = this.current = null;
    this.el.remove();
  }

  private stop(): void {
    this.feed.sendFrame({ t: 'screencast_stop', visitor_id: this.visitorId });
    this.opts.onStop();
  }

  /**
   * Asks for the cached keyframe and what followed (a broken chain mends at
   * that keyframe). Once until it is answered: every `watch` makes the server
   * send the whole keyframe again, megabytes on a large page.
   */
  private watch(): void {
    if (this.destroyed || this.watchPending || this.gaveUp || this.retryTimer) return;
    // The window's early.js asked already, on this very connection.
    if (takeEarlyWatch(this.visitorId)) {
      this.watchPending = true;
      return;
    }
    if (this.feed.sendFrame({ t: 'watch', visitor_id: this.visitorId })) {
      this.watchPending = true;
      mark('watch');
    }
  }

  // ---- text frames: the visitor's state

  private onMessage(m: ConsoleOut): void {
    switch (m.t) {
      case 'snapshot': {
        const v = m.visitors.find((x) => x.visitor_id === this.visitorId);
        if (v) this.onVisitor(v);
        else this.online = false;
        break;
      }
      case 'visitor':
        if (m.visitor.visitor_id !== this.visitorId) return;
        this.onVisitor(m.visitor);
        break;
      case 'screencast':
        if (m.visitor_id !== this.visitorId) return;
        this.onState(m.state);
        break;
      case 'screencast_assets':
        if (m.visitor_id !== this.visitorId) return;
        this.sanitizer = new ReplicaSanitizer(assetPrefixes(m.origins, m.demo));
        return;
      case 'screencast_notice':
        if (m.visitor_id !== this.visitorId) return;
        this.endedText = NOTICE_TEXT[m.reason]?.text ?? m.detail;
        if (!this.everLive) this.opts.onRefused?.();
        break;
      case 'error':
        if (m.ref_type !== 'watch' || m.code !== 'no_broadcast') return;
        this.watchPending = false;
        // Not live (yet): wait for a `screencast` frame that says it is.
        this.setStatus(this.state === 'pending' ? 'waiting' : this.state === 'active' ? 'connecting' : 'ended');
        break;
      default:
        return;
    }
    this.draw();
  }

  private onVisitor(v: VisitorInfo): void {
    this.online = v.online;
    // A single-page-app route change arrives as a `visitor` frame, not a keyframe.
    if (v.online && v.page_url && v.page_url !== this.lastVisitorUrl) {
      this.lastVisitorUrl = v.page_url;
      this.url = v.page_url;
    }
    // Only the snapshot's state is trusted here: a tab coming back from another
    // page is listed as idle just before a `screencast` frame says it is live.
    if (this.state === null) this.onState(v.screencast);
  }

  private onState(state: ScreencastState): void {
    const was = this.state;
    this.state = state;
    if (state === 'active') {
      if (was !== 'active' && this.status !== 'live') {
        // A new broadcast: what did not decode before may now.
        this.gaveUp = false;
        this.decodeFailures = 0;
        this.setStatus('connecting');
        this.watch();
      }
    } else if (state === 'pending') {
      if (this.status !== 'live') this.setStatus('waiting');
    } else if (was !== null || this.status !== 'live') {
      // idle, or unavailable (the visitor left): the broadcast is over.
      this.setStatus('ended');
    }
  }

  private setStatus(s: Status): void {
    if (this.status === s) return;
    this.status = s;
    if (s !== 'ended') this.endedText = '';
    this.draw();
  }

  // ---- binary frames: the screen

  private onFrame(buf: ArrayBuffer): void {
    if (this.destroyed || this.gaveUp || buf.byteLength < HEADER_LEN) return;
    const view = new DataView(buf);
    const kind = view.getUint8(0);
    const seq = view.getUint32(1, false);
    if (kind !== KIND_KEYFRAME && kind !== KIND_DELTA) return;
    if (kind === KIND_DELTA) {
      if (!this.incoming && !this.current) return;
      if (this.broken) return;
      if (seq !== this.lastSeq + 1) {
        // Something is missing: the server resyncs us from its cached keyframe.
        this.broken = true;
        this.watch();
        return;
      }
    }
    if (kind === KIND_KEYFRAME) {
      this.watchPending = false;
      mark('keyframe-received');
    }
    let events: eventWithTime[];
    try {
      const items = JSON.parse(this.decoder.decode(new Uint8Array(buf, HEADER_LEN)));
      const state = kind === KIND_KEYFRAME ? newCodecState() : this.codec;
      events = decodeEvents(items, state);
      this.codec = state;
    } catch (e) {
      this.undecodable(seq, e);
      return;
    }
    if (seq > this.failedSeq) this.decodeFailures = 0;
    if (kind === KIND_KEYFRAME && this.retryTimer) {
      // A fresh keyframe mends the chain: no need for the resync planned.
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.lastSeq = seq;
    if (kind === KIND_KEYFRAME) {
      mark('keyframe-decoded');
      this.keyframe(events);
    } else {
      this.delta(events);
    }
  }

  /**
   * A frame did not decode. What follows builds on it, so start over from the
   * server's cached keyframe — after a pause that doubles each time the same
   * frames fail again, and not at all after the third: the broadcast is shown
   * as ended with the reason, and the console stops watching it.
   */
  private undecodable(seq: number, e: unknown): void {
    this.broken = true;
    this.decodeFailures++;
    this.failedSeq = Math.max(this.failedSeq, seq);
    if (this.decodeFailures > MAX_DECODE_RETRIES) {
      console.warn('[chatcast] the screen frames keep failing to decode; giving up', e);
      this.gaveUp = true;
      this.feed.sendFrame({ t: 'unwatch', visitor_id: this.visitorId });
      this.drop(this.incoming);
      this.incoming = null;
      this.endedText = "The visitor's screen cannot be shown: what their page sends does not decode.";
      this.status = 'ended';
      this.draw();
      return;
    }
    const wait = 1000 * 2 ** (this.decodeFailures - 1);
    console.warn(`[chatcast] a screen frame does not decode; resyncing in ${wait / 1000} s`, e);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.watch();
    }, wait);
  }

  private keyframe(events: eventWithTime[]): void {
    const fresh = this.status !== 'live';
    this.broken = false;
    if (fresh) {
      // A new broadcast (not a navigation or a resync): nothing is known about the pointer yet.
      this.pointer = null;
      this.outside = false;
      this.overHidden = false;
      this.presence = 'active';
    }
    const t0 = Date.now();
    const replayer = new Replayer([], {
      root: this.canvas,
      liveMode: true,
      mouseTail: false,
      triggerFocus: false, // never take the keyboard from the consultant's reply box
      pauseAnimation: false,
      showWarning: false,
      insertStyleRules: REPLICA_CSS,
      UNSAFE_replayCanvas: false,
    });
    replayer.wrapper.classList.add('sc-incoming');
    replayer.startLive(t0);
    // Measured after the Replayer's timer started, so that an event stamped
    // `t0 + (now - p0)` is never later on its clock than it is now.
    const next: Live = { replayer, t0, p0: performance.now() };
    this.drop(this.incoming);
    this.incoming = next;
    replayer.on('fullsnapshot-rebuilded', () => {
      mark('keyframe-rebuilt');
      this.swap(next);
    });
    // If the snapshot cannot be rebuilt, do not keep the old page forever.
    if (this.swapTimer) clearTimeout(this.swapTimer);
    this.swapTimer = setTimeout(() => this.swap(next), 1500);
    for (const e of events) e.timestamp = t0;
    this.feedEvents(next, events);
    this.everLive = true;
    this.setStatus('live');
  }

  private delta(events: eventWithTime[]): void {
    const target = this.incoming ?? this.current;
    if (!target) return;
    // Due now on the Replayer's own clock (a hair early, so it is never late).
    const stamp = target.t0 + Math.max(0, performance.now() - target.p0 - 2);
    for (const e of events) e.timestamp = stamp;
    this.feedEvents(target, events);
  }

  private feedEvents(target: Live, events: eventWithTime[]): void {
    for (const e of events) {
      if (!this.sanitizer.event(e)) continue;
      this.scan(e);
      target.replayer.addEvent(e);
    }
    this.drawCursor();
    this.drawPresence();
  }

  /** Puts the new replayer on screen and frees the old one. */
  private swap(next: Live): void {
    if (this.incoming !== next) return;
    if (this.swapTimer) clearTimeout(this.swapTimer);
    this.swapTimer = null;
    this.incoming = null;
    const old = this.current;
    this.current = next;
    next.replayer.wrapper.classList.remove('sc-incoming');
    this.drop(old);
    next.replayer.iframe.setAttribute('data-testid', 'replica-frame');
    next.replayer.iframe.setAttribute('title', "Replica of the visitor's tab");
    next.replayer.iframe.setAttribute('tabindex', '-1');
  }

  private drop(l: Live | null): void {
    if (!l) return;
    try {
      l.replayer.timer.clear();
      l.replayer.destroy();
    } catch {
      l.replayer.wrapper.remove();
    }
  }

  /** Reads what the overlay needs from an event as it arrives. */
  private scan(e: eventWithTime): void {
    const d = (e as { data?: any }).data;
    if (!d) return;
    switch (e.type as number) {
      case EV_META:
        if (d.width > 0 && d.height > 0) this.setSize(d.width, d.height);
        if (typeof d.href === 'string') this.url = d.href;
        return;
      case EV_CUSTOM:
        if (d.tag === 'chatcast/pointer') {
          this.outside = d.payload?.state === 'outside';
          this.overHidden = d.payload?.state === 'hidden';
          // Where the pointer came to rest (rrweb's throttle may drop the last move).
          if (!this.outside && typeof d.payload?.x === 'number' && typeof d.payload?.y === 'number') {
            this.pointer = { x: d.payload.x, y: d.payload.y };
          }
        }
        else if (d.tag === 'chatcast/click') {
          // rrweb records no click on a blocked element, so the agent reports
          // every press itself (position only, never the target).
          const p = d.payload;
          if (typeof p?.x === 'number' && typeof p?.y === 'number') {
            this.pointer = { x: p.x, y: p.y };
            this.outside = false;
            this.overHidden = false;
          }
          this.click();
        }
        else if (d.tag === 'chatcast/presence' && isPresence(d.payload?.state)) this.presence = d.payload.state;
        return;
      case EV_INCREMENTAL:
        switch (d.source) {
          case SRC_MOUSE_MOVE:
          case SRC_TOUCH_MOVE:
          case SRC_DRAG: {
            const ps = d.positions as { x: number; y: number; timeOffset: number }[] | undefined;
            if (!ps?.length) return;
            const last = ps[ps.length - 1];
            this.pointer = { x: last.x, y: last.y };
            this.outside = false;
            this.overHidden = false;
            // The Replayer need not spread them out: the overlay draws the pointer, not it.
            for (const p of ps) p.timeOffset = 0;
            return;
          }
          case SRC_MOUSE_INTERACTION:
            if (d.type === MI_MOUSE_DOWN || d.type === MI_CLICK || d.type === MI_TOUCH_START) {
              if (typeof d.x === 'number' && typeof d.y === 'number') {
                this.pointer = { x: d.x, y: d.y };
                this.outside = false;
                this.overHidden = false;
              }
              this.click();
            }
            return;
          case SRC_VIEWPORT_RESIZE:
            if (d.width > 0 && d.height > 0) this.setSize(d.width, d.height);
            return;
        }
    }
  }

  private click(): void {
    this.cursor.setAttribute('data-clicking', 'true');
    if (this.clickTimer) clearTimeout(this.clickTimer);
    this.clickTimer = setTimeout(() => {
      this.clickTimer = null;
      this.cursor.removeAttribute('data-clicking');
    }, CLICK_MS);
  }

  private setSize(w: number, hgt: number): void {
    if (w === this.width && hgt === this.height) return;
    this.width = w;
    this.height = hgt;
    this.layout();
  }

  // ---- drawing

  /** Scales the replica to fit the stage without distortion or cropping. */
  private layout(): void {
    const availW = this.stage.clientWidth;
    const availH = this.stage.clientHeight;
    const { width: vw, height: vh } = this;
    if (!vw || !vh || !availW || !availH) {
      this.drawSize();
      return;
    }
    const s = Math.min(availW / vw, availH / vh, MAX_SCALE);
    this.scale = s;
    const ox = Math.max(0, (availW - vw * s) / 2);
    const oy = Math.max(0, (availH - vh * s) / 2);
    const st = this.canvas.style;
    st.width = `${vw}px`;
    st.height = `${vh}px`;
    st.transform = `translate(${ox}px, ${oy}px) scale(${s})`;
    this.canvas.dataset.ox = String(ox);
    this.canvas.dataset.oy = String(oy);
    this.drawSize();
    this.drawCursor();
  }

  private drawSize(): void {
    if (!this.width || !this.height) {
      setText(this.sizeEl, '—');
      return;
    }
    const scale = Math.round(this.scale * 1000) / 1000;
    setText(this.sizeEl, `${this.width} × ${this.height} · ${Math.round(this.scale * 100)}%`);
    setAttr(this.sizeEl, 'data-width', String(this.width));
    setAttr(this.sizeEl, 'data-height', String(this.height));
    setAttr(this.sizeEl, 'data-scale', String(scale));
  }

  private drawCursor(): void {
    const live = this.status === 'live';
    const state = !live || !this.pointer || this.overHidden ? 'hidden' : this.outside ? 'outside' : 'visible';
    setAttr(this.cursor, 'data-state', state);
    this.cursorNote.hidden = !(live && this.outside);
    this.hiddenNote.hidden = !(live && this.overHidden && !this.outside);
    if (state === 'visible' && this.pointer) {
      const ox = Number(this.canvas.dataset.ox ?? 0);
      const oy = Number(this.canvas.dataset.oy ?? 0);
      this.cursor.style.transform = `translate(${ox + this.pointer.x * this.scale}px, ${oy + this.pointer.y * this.scale}px)`;
    }
  }

  private currentPresence(): Presence {
    if (this.feed.socketState !== 'open' || this.online === false) return 'reconnecting';
    return this.presence;
  }

  private drawPresence(): void {
    const p = this.currentPresence();
    setAttr(this.presenceEl, 'data-state', p);
    setText(this.presenceText, PRESENCE_TEXT[p].badge);
    const note = this.status === 'live' ? PRESENCE_TEXT[p].note : '';
    setText(this.presenceNote, note);
    this.presenceNote.hidden = !note;
    this.presenceNote.dataset.state = p;
    this.stage.classList.toggle('sc-dim', this.status === 'live' && p === 'reconnecting');
  }

  private draw(): void {
    if (this.destroyed) return;
    const href = safeHref(this.url);
    setText(this.urlEl, this.url || 'Waiting for the page…');
    setAttr(this.urlEl, 'href', href);
    setAttr(this.urlEl, 'title', this.url || null);
    setAttr(this.el, 'data-status', this.status);
    this.drawPresence();
    this.drawCursor();
    this.drawOverlay();
    this.opts.onInfo?.({ url: this.url, status: this.status });
  }

  private drawOverlay(): void {
    const o = this.overlay;
    const key = `${this.status}|${this.endedText}|${this.online}`;
    if (o.dataset.key === key) return;
    o.dataset.key = key;
    setAttr(o, 'data-state', this.status);
    if (this.status === 'live') {
      o.hidden = true;
      o.replaceChildren();
      return;
    }
    o.hidden = false;
    const spinner = h('span', { class: 'spinner', 'aria-hidden': 'true' });
    if (this.status === 'connecting') {
      o.replaceChildren(h('div', { class: 'sc-overlay-card' }, spinner, h('p', null, "Connecting to the visitor's tab…")));
    } else if (this.status === 'waiting') {
      const cancel = h('button', {
        type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'screencast-withdraw',
        onclick: () => this.stop(),
      }, 'Cancel the request');
      o.replaceChildren(h('div', { class: 'sc-overlay-card' }, spinner,
        h('strong', null, 'Waiting for permission…'),
        h('p', null, 'The visitor is asked to allow you to see this tab. The replica appears here as soon as they do.'),
        h('div', { class: 'sc-overlay-actions' }, cancel)));
    } else {
      const again = h('button', {
        type: 'button', class: 'btn btn-primary btn-sm', 'data-testid': 'screencast-again',
        onclick: () => {
          this.feed.sendFrame({ t: 'screencast_request', visitor_id: this.visitorId });
          this.setStatus('waiting');
        },
      }, 'Ask again');
      again.disabled = this.online === false;
      const onClose = this.opts.onClose;
      const close = onClose
        ? h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'screencast-window-close', onclick: () => onClose() }, 'Close window')
        : null;
      o.replaceChildren(h('div', { class: 'sc-overlay-card', 'data-testid': 'screencast-ended' },
        h('strong', null, 'The screen broadcast has ended'),
        this.endedText ? h('p', null, this.endedText) : null,
        h('div', { class: 'sc-overlay-actions' }, again, close),
      ));
    }
  }
}

/** URL prefixes the replica may load the site's assets from (the demo site: this server's `/demo/` only). */
function assetPrefixes(origins: string[], demo: boolean): string[] {
  const out: string[] = [];
  for (const o of origins) {
    try {
      out.push(new URL(o).origin + '/');
    } catch {
      // not an origin: nothing from there
    }
  }
  if (demo) out.push(location.origin + '/demo/');
  return out;
}

/** Resyncs tried after frames that do not decode, before giving up. */
const MAX_DECODE_RETRIES = 3;

/**
 * A User Timing mark (`chatcast:…`): where a keyframe's time goes in this
 * window (received, decoded, rebuilt), for the browser's performance tools
 * and the benchmarks.
 */
function mark(name: string): void {
  try {
    performance.mark(`chatcast:${name}`);
  } catch {
    // no User Timing here
  }
}

function globeIcon(): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon sc-globe');
  svg.setAttribute('aria-hidden', 'true');
  for (const d of ['M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z', 'M3 12h18', 'M12 3c3 3 3 15 0 18c-3-3-3-15 0-18z']) {
    const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    p.setAttribute('d', d);
    svg.appendChild(p);
  }
  return svg;
}
