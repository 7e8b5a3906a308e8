// A WebSocket that comes back: reconnects with jittered exponential backoff,
// speaks the versioned envelope of docs/protocol.md, and gives up only on the
// server's policy refusals (close codes 4001/4003/4004), whose reason it reports.
// Binary frames carry screen broadcast data both ways (docs/protocol.md).

import type { ErrorBody } from '../protocol/ErrorBody';

export const PROTOCOL_VERSION = 1;

/** Close codes after which reconnecting cannot help. */
const FATAL_CLOSE_CODES = new Set([4001, 4003, 4004]);
/** The server closed the socket for going past a rate or count limit. */
const RATE_LIMITED_CLOSE_CODE = 4029;

export type SocketState = 'connecting' | 'open' | 'closed' | 'refused';

/** A socket someone else opened, to take over as the first connection, with what it received so far. */
export interface Adoptable {
  ws: WebSocket;
  backlog: MessageEvent[];
  /** Set if it closed before it was taken over. */
  closed: CloseEvent | null;
}

export interface SocketHooks<In> {
  /** Called on every (re)connection, before any queued frame is flushed: send `hello` here. */
  onOpen(): void;
  /** A parsed frame from the server. */
  onMessage(msg: In): void;
  /** A binary frame (screen data). */
  onBinary?(data: ArrayBuffer): void;
  /** State changes, for the UI's connection indicator. */
  onState?(state: SocketState, detail?: string): void;
  /** An `error` frame, or the reason of a refusal. */
  onError?(err: ErrorBody): void;
}

export class ReconnectingSocket<Out extends { t: string }, In extends { t: string }> {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private lastError: ErrorBody | null = null;
  state: SocketState = 'connecting';
  // Coming back online or to the tab is a good moment to retry at once.
  private readonly onOnline = () => this.retryNow();
  private readonly onVisible = () => {
    if (document.visibilityState === 'visible') this.retryNow();
  };

  constructor(
    private readonly url: string,
    private readonly hooks: SocketHooks<In>,
    private readonly backoff = { baseMs: 500, maxMs: 15_000 },
    adopt?: Adoptable | null,
  ) {
    if (adopt) {
      // In a microtask: the caller attaches its listeners first, and no
      // socket event can slip in between (events are tasks).
      this.setState('connecting');
      queueMicrotask(() => this.adopt(adopt));
    } else {
      this.connect();
    }
    addEventListener('online', this.onOnline);
    document.addEventListener('visibilitychange', this.onVisible);
  }

  /** Whether a frame sent now goes out at once. */
  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends one message in the envelope; returns false if the socket is not open (caller keeps it). */
  send(msg: Out): boolean {
    if (!this.isOpen) return false;
    this.ws!.send(JSON.stringify({ v: PROTOCOL_VERSION, ...msg }));
    return true;
  }

  /** Sends one binary frame (screen data, see docs/protocol.md); false if the socket is not open (the frame is dropped). */
  sendBinary(data: ArrayBuffer | Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.ws!.send(data);
    return true;
  }

  /** Closes for good (logout, page teardown). */
  close(): void {
    this.stopped = true;
    removeEventListener('online', this.onOnline);
    document.removeEventListener('visibilitychange', this.onVisible);
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close(1000, 'client closing');
  }

  private retryNow(): void {
    if (this.stopped || this.state === 'refused' || this.ws) return;
    if (this.timer) clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  private setState(state: SocketState, detail?: string): void {
    this.state = state;
    this.hooks.onState?.(state, detail);
  }

  /** Takes over a socket opened earlier: its state, then what it received, in order. */
  private adopt(a: Adoptable): void {
    if (this.stopped) {
      a.ws.close(1000, 'client closing');
      return;
    }
    this.attach(a.ws);
    const gone = a.closed || a.ws.readyState === WebSocket.CLOSED || a.ws.readyState === WebSocket.CLOSING;
    if (!gone && a.ws.readyState !== WebSocket.OPEN) return; // still connecting: its onopen is ours now
    // As it happened: open, what it received (a refusal's `error` among it), then the close.
    if (!gone || a.backlog.length) a.ws.onopen?.(new Event('open'));
    for (const ev of a.backlog.splice(0)) {
      if (this.ws !== a.ws) break;
      a.ws.onmessage?.(ev);
    }
    if (gone && this.ws === a.ws) a.ws.onclose?.(a.closed ?? new CloseEvent('close', { code: 1006 }));
  }

  private connect(): void {
    this.timer = null;
    this.setState('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.attach(ws);
  }

  private attach(ws: WebSocket): void {
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      this.attempt = 0;
      this.lastError = null;
      this.setState('open');
      this.hooks.onOpen();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      if (ev.data instanceof ArrayBuffer) {
        this.hooks.onBinary?.(ev.data);
        return;
      }
      if (typeof ev.data !== 'string') return;
      let msg: In & { v?: number };
      try {
        msg = JSON.parse(ev.data);
      } catch {
        console.warn('[chatcast] ignoring a frame that is not JSON');
        return;
      }
      if (msg.t === 'error') {
        this.lastError = msg as unknown as ErrorBody;
        this.hooks.onError?.(this.lastError);
      }
      this.hooks.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return; // an older socket, already replaced
      this.ws = null;
      if (this.stopped) {
        this.setState('closed');
        return;
      }
      if (FATAL_CLOSE_CODES.has(ev.code)) {
        const reason = this.lastError?.message || ev.reason || `refused (${ev.code})`;
        console.warn(`[chatcast] the server refused the connection: ${reason}`);
        this.setState('refused', reason);
        return;
      }
      this.setState('closed', ev.reason);
      // Closed for going past a limit (4029): come back late, not at once.
      if (ev.code === RATE_LIMITED_CLOSE_CODE) this.attempt = Math.max(this.attempt, 5);
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    const exp = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** this.attempt);
    // Full jitter keeps thousands of widgets from reconnecting in lockstep after a restart.
    const delay = exp / 2 + Math.random() * (exp / 2);
    this.attempt++;
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

/** A random id for de-duplicating resends. */
export function newClientId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return 'c_' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
