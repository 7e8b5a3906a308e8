// The screencast window's head start. `early.js` (this file's `openEarly`,
// built as its own tiny script and loaded before console.js) opens the console
// socket and asks for the visitor's cached keyframe at once, so that the
// keyframe of a large page travels while the console's code loads and
// starts. console.js then adopts that socket with what arrived meanwhile
// (shared/socket.ts), and the replica knows its `watch` is already on its way.

import type { Adoptable } from '../../shared/socket';
import { consoleSocketUrl } from '../api';

const KEY = '__chatcastEarly';

interface Early extends Adoptable {
  /** The visitor whose keyframe was asked for on this socket. */
  watched: string;
  /** The `watch` went out (the socket opened before console.js took it over). */
  watchSent: boolean;
  watchTaken: boolean;
  taken: boolean;
}

type Holder = Record<typeof KEY, Early | undefined>;

/** Opens the socket and sends `watch` (early.js). */
export function openEarly(): void {
  const visitorId = new URLSearchParams(location.search).get('visitor')?.trim();
  if (!visitorId || (window as unknown as Holder)[KEY]) return;
  let ws: WebSocket;
  try {
    ws = new WebSocket(consoleSocketUrl());
  } catch {
    return; // console.js connects on its own
  }
  ws.binaryType = 'arraybuffer';
  performance.mark('chatcast:early-socket');
  const early: Early = { ws, backlog: [], closed: null, watched: visitorId, watchSent: false, watchTaken: false, taken: false };
  ws.onopen = () => {
    ws.send(JSON.stringify({ v: 1, t: 'watch', visitor_id: visitorId }));
    early.watchSent = true;
    performance.mark('chatcast:watch');
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data !== 'string' && !early.backlog.some((e) => typeof e.data !== 'string')) performance.mark('chatcast:early-frame');
    early.backlog.push(ev);
  };
  ws.onclose = (ev) => {
    early.closed = ev;
  };
  (window as unknown as Holder)[KEY] = early;
}

/** The early socket, once, for the console's connection to adopt. */
export function takeEarly(): Adoptable | null {
  const early = (window as unknown as Holder)[KEY];
  if (!early || early.taken) return null;
  early.taken = true;
  return early;
}

/**
 * Whether a `watch` for this visitor is already on the current connection
 * (the adopted early socket, still open): true once.
 */
export function takeEarlyWatch(visitorId: string): boolean {
  const early = (window as unknown as Holder)[KEY];
  if (!early || !early.taken || !early.watchSent || early.watchTaken || early.watched !== visitorId) return false;
  // Still the connection that carried it (closed: the next one asks again).
  if (early.ws.readyState !== WebSocket.OPEN) return false;
  early.watchTaken = true;
  return true;
}
