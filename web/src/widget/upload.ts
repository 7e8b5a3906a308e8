// The screen socket of a live broadcast (docs/protocol.md, "Screen socket"):
// `wss://SERVER/ws/screen?token=…`, opened when `screencast_start` arrives,
// carrying the recorder's binary frames and nothing else. It is apart from the
// chat socket so that its permessage-deflate keeps context (each batch
// compresses against the ones before it, in the browser's network service)
// while idle chat sockets stay cheap on the server.
//
// The server closes it when the broadcast ends or the tab moves on (1000) or
// when the token is not (or no longer) live (1008); it is reopened only after
// a network failure, and then the recording starts over from a keyframe.

/** Closes after which reopening cannot help: ended, refused, or a policy refusal (4xxx). */
const FINAL = (code: number) => code === 1000 || code === 1008 || code === 1001 || (code >= 4000 && code < 5000);
/** Network failures survived in a row before the broadcast is reported impossible. */
const MAX_ATTEMPTS = 5;

export interface UploadHooks {
  /** The socket is open: start recording (`again`: after a reconnect, from a fresh keyframe). */
  onOpen(again: boolean): void;
  /** Frames cannot go out (until the next onOpen, if any): stop recording. */
  onDown(): void;
  /** The socket could not be opened, or reopened: the broadcast is impossible from here. */
  onFail(detail: string): void;
}

export class ScreenUpload {
  private ws: WebSocket | null = null;
  private opened = false;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly hooks: UploadHooks,
  ) {
    this.connect();
  }

  /** Sends one frame; false when the socket is not open (the frame is dropped). */
  send(frame: Uint8Array): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(frame);
    return true;
  }

  /** Closes for good (the broadcast ended here). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onclose = ws.onmessage = null;
      try {
        ws.close(1000, 'broadcast ended');
      } catch {
        // already closing
      }
    }
  }

  private connect(): void {
    this.timer = null;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.closed = true;
      this.hooks.onFail(`the screen connection could not be opened (${(e as Error)?.message || e})`);
      return;
    }
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    let reason = '';
    ws.onmessage = (ev) => {
      // Only an `error` before a close is expected here: keep its message for the report.
      if (typeof ev.data === 'string') {
        try {
          reason = JSON.parse(ev.data)?.message || reason;
        } catch {
          // not JSON: ignore
        }
      }
    };
    ws.onopen = () => {
      const again = this.opened;
      this.opened = true;
      this.attempts = 0;
      this.hooks.onOpen(again);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws || this.closed) return;
      this.ws = null;
      this.hooks.onDown();
      const final = FINAL(ev.code);
      if (final || ++this.attempts > MAX_ATTEMPTS) {
        this.closed = true;
        // Ended by the server after it was open: the chat socket says what comes next.
        if (!(this.opened && final)) this.hooks.onFail(`the screen connection to the server failed (${reason || ev.reason || `close ${ev.code}`})`);
        return;
      }
      const delay = Math.min(8_000, 250 * 2 ** this.attempts) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }
}
