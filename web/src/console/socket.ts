// The console's WebSocket: the shared ReconnectingSocket (web/src/shared/socket.ts)
// plus binary frames, which carry screen broadcast data (docs/protocol.md,
// "Binary frames"). Kept beside the console so the widget's socket stays as it is.

import type { ErrorBody } from '../protocol/ErrorBody';
import { PROTOCOL_VERSION, type SocketState } from '../shared/socket';

export type { SocketState };

/** Close codes after which reconnecting cannot help. */
const FATAL_CLOSE_CODES = new Set([4001, 4003, 4004]);

export interface ConsoleSocketHooks<In> {
  /** Called on every (re)connection, before anything else is sent. */
  onOpen(): void;
  /** A parsed text frame. */
  onMessage(msg: In): void;
  /** A binary frame (screen data). */
  onBinary?(data: ArrayBuffer): void;
  /** State changes, for the UI's connection indicator. */
  onState?(state: SocketState, detail?: string): void;
}

export class ConsoleSocket<Out extends { t: string }, In extends { t: string }> {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private lastError: ErrorBody | null = null;
  state: SocketState = 'connecting';
  private readonly onOnline = () => this.retryNow();
  private readonly onVisible = () => {
    if (document.visibilityState === 'visible') this.retryNow();
  };

  constructor(
    private readonly url: string,
    private readonly hooks: ConsoleSocketHooks<In>,
    private readonly backoff = { baseMs: 500, maxMs: 15_000 },
  ) {
    this.connect();
    addEventListener('online', this.onOnline);
    document.addEventListener('visibilitychange', this.onVisible);
  }

  /** The console endpoint of this server. */
  static consoleUrl(): string {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/ws/console`;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends one message in the envelope; false if the socket is not open (the caller keeps it). */
  send(msg: Out): boolean {
    if (!this.isOpen) return false;
    this.ws!.send(JSON.stringify({ v: PROTOCOL_VERSION, ...msg }));
    return true;
  }

  /** Closes for good. */
  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    removeEventListener('online', this.onOnline);
    document.removeEventListener('visibilitychange', this.onVisible);
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

  private connect(): void {
    this.timer = null;
    this.setState('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
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
      if (msg.t === 'error') this.lastError = msg as unknown as ErrorBody;
      this.hooks.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
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
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    const exp = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** this.attempt);
    const delay = exp / 2 + Math.random() * (exp / 2);
    this.attempt++;
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
