// What the console says about screen broadcasts.

import type { NoticeReason } from '../../protocol/NoticeReason';

/** One sentence per reason a broadcast was refused, impossible or ended. */
export const NOTICE_TEXT: Record<NoticeReason, { title: string; text: string }> = {
  denied: { title: 'Request declined', text: 'The visitor declined to share their tab.' },
  unsupported: { title: 'Not supported', text: "The visitor's browser is too old or lacks what screen broadcast needs." },
  weak_connection: { title: 'Connection too weak', text: "The visitor's connection is too weak for a screen broadcast." },
  offline: { title: 'Visitor offline', text: 'The visitor is offline, so their tab cannot be shown.' },
  timeout: { title: 'No answer', text: 'The visitor did not answer the request in time.' },
  stopped_by_visitor: { title: 'Stopped by the visitor', text: 'The visitor stopped the screen broadcast.' },
  too_much_data: {
    title: 'Ended: too much data',
    text: "The visitor's page sent more than the server may hold, so the broadcast was ended.",
  },
};

export type Presence = 'active' | 'tab_hidden' | 'window_blurred' | 'idle' | 'reconnecting';

export const PRESENCE_TEXT: Record<Presence, { badge: string; note: string }> = {
  active: { badge: 'Active', note: '' },
  tab_hidden: { badge: 'Tab hidden', note: 'The visitor switched to another tab: this tab is hidden.' },
  window_blurred: { badge: 'Window not focused', note: "The visitor's browser window is not focused." },
  idle: { badge: 'Idle', note: 'The visitor has not moved or typed for a while.' },
  reconnecting: { badge: 'Reconnecting…', note: "Reconnecting to the visitor's tab…" },
};

export function isPresence(s: unknown): s is Exclude<Presence, 'reconnecting'> {
  return s === 'active' || s === 'tab_hidden' || s === 'window_blurred' || s === 'idle';
}
