// Where a screencast view gets its frames from: a console socket that sends
// `watch` and receives binary screen frames. In the popup that is the page's
// own Live connection; in the in-console panel, a socket of its own (binary
// frames carry no visitor id, so one socket watches one visitor at a time).

import type { ConsoleIn } from '../../protocol/ConsoleIn';
import type { ConsoleOut } from '../../protocol/ConsoleOut';
import { type Adoptable, ReconnectingSocket, type SocketState } from '../../shared/socket';
import { consoleSocketUrl } from '../api';

export interface FeedListener {
  /** The socket (re)connected: send `watch` again. */
  onOpen?(): void;
  /** Every text frame. */
  onMessage?(m: ConsoleOut): void;
  /** Every binary frame. */
  onBinary?(data: ArrayBuffer): void;
  /** Connection state changes (with the server's reason when it refused). */
  onState?(state: SocketState, detail?: string): void;
}

export interface WatchFeed {
  /** Sends a frame now; false when not connected. */
  sendFrame(m: ConsoleIn): boolean;
  /** Adds a listener; returns its removal. */
  listen(l: FeedListener): () => void;
  readonly isOpen: boolean;
  readonly socketState: SocketState;
}

/** A console socket fanned out to listeners, in the order they subscribed. */
export class SocketFeed implements WatchFeed {
  private readonly socket: ReconnectingSocket<ConsoleIn, ConsoleOut>;
  private readonly listeners = new Set<FeedListener>();

  /** `adopt`: a socket opened earlier (the screencast window's early.js) to start from. */
  constructor(adopt?: Adoptable | null) {
    this.socket = new ReconnectingSocket<ConsoleIn, ConsoleOut>(consoleSocketUrl(), {
      onOpen: () => this.each((l) => l.onOpen?.()),
      onMessage: (m) => this.each((l) => l.onMessage?.(m)),
      onBinary: (b) => this.each((l) => l.onBinary?.(b)),
      onState: (s, d) => this.each((l) => l.onState?.(s, d)),
    }, undefined, adopt);
  }

  get isOpen(): boolean {
    return this.socket.isOpen;
  }

  get socketState(): SocketState {
    return this.socket.state;
  }

  sendFrame(m: ConsoleIn): boolean {
    return this.socket.send(m);
  }

  listen(l: FeedListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  close(): void {
    this.listeners.clear();
    this.socket.close();
  }

  private each(f: (l: FeedListener) => void): void {
    for (const l of [...this.listeners]) f(l);
  }
}
