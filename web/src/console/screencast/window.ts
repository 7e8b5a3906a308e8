// The screencast window of the main console: a popup page per visitor
// (`/console/screencast.html?visitor=<id>`), or, where popups are blocked, a
// panel inside the console beside the dialog.

/** Visitors whose broadcast should show as a panel when their dialog is open. */
export const panelWanted = new Set<string>();

const popups = new Map<string, Window>();
const closeListeners = new Set<() => void>();
let poll: ReturnType<typeof setInterval> | null = null;

/** The page of the screencast window. */
export function screencastUrl(visitorId: string): string {
  return new URL(`screencast.html?visitor=${encodeURIComponent(visitorId)}`, location.href).href;
}

const ENDING = '__chatcastEnding';
const ENDED = '__chatcastEnded';

/** Marks a screencast window whose broadcast has ended (or, `false`, is back). */
export function markEnded(w: Window, ended: boolean): void {
  (w as unknown as Record<string, boolean>)[ENDED] = ended;
}

function isEnded(w: Window): boolean {
  try {
    return (w as unknown as Record<string, boolean>)[ENDED] === true;
  } catch {
    return false;
  }
}

/** Marks a screencast window that is about to close itself (same origin as its opener). */
export function markEnding(w: Window): void {
  (w as unknown as Record<string, boolean>)[ENDING] = true;
}

function isEnding(w: Window): boolean {
  try {
    return (w as unknown as Record<string, boolean>)[ENDING] === true;
  } catch {
    return false;
  }
}

/** The visitor's open popup, if any (one that is closing itself does not count). */
export function popupFor(visitorId: string): Window | null {
  const w = popups.get(visitorId);
  if (w && !w.closed && !isEnding(w)) return w;
  popups.delete(visitorId);
  return null;
}

/** Called when a popup is closed (to redraw buttons). */
export function onPopupClosed(f: () => void): () => void {
  closeListeners.add(f);
  return () => closeListeners.delete(f);
}

/**
 * Opens (or focuses) the visitor's screencast popup. Returns null when the
 * browser blocked it: the caller shows the panel instead.
 */
export function openPopup(visitorId: string): Window | null {
  const existing = popupFor(visitorId);
  if (existing) {
    existing.focus();
    return existing;
  }
  // Windows of broadcasts that ended do not pile up: a new one replaces them.
  for (const [id, p] of popups) {
    if (!p.closed && isEnded(p)) {
      p.close();
      popups.delete(id);
    }
  }
  const width = Math.min(screen.availWidth || 1440, 1440);
  const height = Math.min(screen.availHeight || 900, 900);
  // A fresh name each time: a window of the same name may still be closing itself.
  const name = `chatcast-screen-${visitorId.replace(/[^A-Za-z0-9_]/g, '_')}-${Date.now()}`;
  let w: Window | null = null;
  try {
    w = window.open(screencastUrl(visitorId), name, `popup,width=${width},height=${height}`);
  } catch {
    w = null;
  }
  if (!w || w.closed) return null;
  try {
    w.focus();
  } catch {
    /* some browsers refuse focus without a gesture */
  }
  popups.set(visitorId, w);
  if (!poll) {
    poll = setInterval(() => {
      let closed = false;
      for (const [id, p] of popups) {
        if (p.closed) {
          popups.delete(id);
          closed = true;
        }
      }
      if (closed) for (const f of closeListeners) f();
      if (!popups.size && poll) {
        clearInterval(poll);
        poll = null;
      }
    }, 1000);
  }
  return w;
}

/** Closes the visitor's popup (the broadcast ended from the console). */
export function closePopup(visitorId: string): void {
  popupFor(visitorId)?.close();
  popups.delete(visitorId);
}
