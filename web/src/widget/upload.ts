// The screen socket of a live broadcast (docs/protocol.md, "The screen
// socket"): `wss://SERVER/ws/screen?token=…`, opened when `screencast_start`
// arrives, carrying the recorder's binary frames and nothing else. It is apart
// from the chat socket so that its permessage-deflate keeps context (each
// batch compresses against the ones before it, in the browser's network
// service) while idle chat sockets stay cheap on the server.
//
// The socket lives in a small dedicated worker when the page allows one: the
// page's main thread then only hands each frame over (a transfer, no copy),
// and WebSocket.send — which measured as the largest single cost of a
// broadcast on the visitor's main thread — runs off it. Where the page's CSP
// forbids blob: workers, the socket is opened on the main thread instead.
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

/** One connection attempt's socket, wherever it runs. */
interface Pipe {
  send(frame: Uint8Array): void;
  close(): void;
}

interface PipeEvents {
  open(): void;
  /** A text frame from the server (only an `error` is expected). */
  text(data: string): void;
  close(code: number, reason: string): void;
  /** The pipe itself could not run (a worker the page forbids): try without it. */
  unusable(): void;
}

export class ScreenUpload {
  private pipe: Pipe | null = null;
  private open = false;
  private opened = false;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /** Workers turned out to be unavailable on this page: sockets go on the main thread. */
  private static noWorker = false;

  constructor(
    private readonly url: string,
    private readonly hooks: UploadHooks,
  ) {
    this.connect();
  }

  /** Sends one frame; false when the socket is not open (the frame is dropped). */
  send(frame: Uint8Array): boolean {
    if (!this.pipe || !this.open) return false;
    this.pipe.send(frame);
    return true;
  }

  /** Closes for good (the broadcast ended here). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.open = false;
    this.pipe?.close();
    this.pipe = null;
  }

  private connect(): void {
    this.timer = null;
    let reason = '';
    let pipe: Pipe | null = null;
    const events: PipeEvents = {
      open: () => {
        if (this.pipe !== pipe) return;
        const again = this.opened;
        this.open = this.opened = true;
        this.attempts = 0;
        this.hooks.onOpen(again);
      },
      text: (data) => {
        // Only an `error` before a close is expected here: keep its message for the report.
        try {
          reason = JSON.parse(data)?.message || reason;
        } catch {
          // not JSON: ignore
        }
      },
      close: (code, why) => {
        if (this.pipe !== pipe || this.closed) return;
        this.pipe = null;
        this.open = false;
        this.hooks.onDown();
        const final = FINAL(code);
        if (final || ++this.attempts > MAX_ATTEMPTS) {
          this.closed = true;
          // Ended by the server after it was open: the chat socket says what comes next.
          if (!(this.opened && final)) this.hooks.onFail(`the screen connection to the server failed (${reason || why || `close ${code}`})`);
          return;
        }
        const delay = Math.min(8_000, 250 * 2 ** this.attempts) * (0.5 + Math.random() / 2);
        this.timer = setTimeout(() => this.connect(), delay);
      },
      unusable: () => {
        if (this.pipe !== pipe || this.closed) return;
        ScreenUpload.noWorker = true;
        pipe?.close();
        this.pipe = pipe = directPipe(this.url, events);
      },
    };
    try {
      pipe = ScreenUpload.noWorker ? directPipe(this.url, events) : workerPipe(this.url, events);
    } catch {
      try {
        ScreenUpload.noWorker = true;
        pipe = directPipe(this.url, events);
      } catch (e) {
        this.closed = true;
        this.hooks.onFail(`the screen connection could not be opened (${(e as Error)?.message || e})`);
        return;
      }
    }
    this.pipe = pipe;
  }
}

/** The socket on the page's main thread. */
function directPipe(url: string, on: PipeEvents): Pipe {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => on.open();
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') on.text(ev.data);
  };
  ws.onclose = (ev) => on.close(ev.code, ev.reason);
  return {
    send: (frame) => ws.send(frame),
    close: () => {
      ws.onopen = ws.onclose = ws.onmessage = null;
      try {
        ws.close(1000, 'broadcast ended');
      } catch {
        // already closing
      }
    },
  };
}

/**
 * The worker: a dumb pipe that owns one WebSocket. In: {url} once, then frames
 * (transferred ArrayBuffers), then {close}. Out: {t: 'open' | 'text' | 'close'}.
 * A blob: worker has the page's origin, so the server sees the site's Origin.
 */
const WORKER_SOURCE = `
let ws = null;
onmessage = (e) => {
  const d = e.data;
  if (d instanceof ArrayBuffer) { if (ws && ws.readyState === 1) ws.send(d); return; }
  if (d && d.url) {
    try { ws = new WebSocket(d.url); } catch (err) { postMessage({ t: 'close', code: 1006, reason: String(err && err.message || err) }); return; }
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => postMessage({ t: 'open' });
    ws.onmessage = (m) => { if (typeof m.data === 'string') postMessage({ t: 'text', data: m.data }); };
    ws.onclose = (c) => { ws = null; postMessage({ t: 'close', code: c.code, reason: c.reason }); };
  } else if (d && d.close) {
    if (ws) { ws.onclose = null; try { ws.close(1000, 'broadcast ended'); } catch (err) {} ws = null; }
    close();
  }
};`;

let workerUrl: string | null = null;

/** The socket in a dedicated worker; throws when this page cannot make one. */
function workerPipe(url: string, on: PipeEvents): Pipe {
  workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const worker = new Worker(workerUrl, { name: 'chatcast-screen' });
  let heard = false;
  worker.onmessage = (e) => {
    heard = true;
    const m = e.data as { t: string; code?: number; reason?: string; data?: string };
    if (m.t === 'open') on.open();
    else if (m.t === 'text') on.text(m.data ?? '');
    else if (m.t === 'close') {
      worker.terminate();
      on.close(m.code ?? 1006, m.reason ?? '');
    }
  };
  // A page whose CSP forbids blob: workers fails here, asynchronously.
  worker.onerror = (e) => {
    e.preventDefault?.();
    worker.terminate();
    if (heard) on.close(1006, 'the screen worker failed');
    else on.unusable();
  };
  worker.postMessage({ url });
  return {
    send: (frame) => {
      // Transferred, not copied: the recorder builds every frame in a buffer of its own.
      const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
      const buf = (whole ? frame.buffer : frame.slice().buffer) as ArrayBuffer;
      worker.postMessage(buf, [buf]);
    },
    close: () => {
      worker.postMessage({ close: true });
      // Let it send its close frame; then it is gone either way.
      setTimeout(() => worker.terminate(), 1000);
    },
  };
}
