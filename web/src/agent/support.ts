// What the recorder needs from the browser. Small on purpose: it is part of
// the widget bundle, so that a browser that cannot broadcast is refused
// before the visitor is asked anything (and before agent.js is loaded).

type Check = [name: string, ok: () => boolean];

const fn = (v: unknown) => typeof v === 'function';

const CHECKS: Check[] = [
  // DOM mirroring (rrweb's snapshot and mutation observer).
  ['MutationObserver', () => fn((globalThis as any).MutationObserver)],
  ['WeakMap', () => fn((globalThis as any).WeakMap)],
  ['WeakSet', () => fn((globalThis as any).WeakSet)],
  ['Map', () => fn((globalThis as any).Map)],
  ['Set', () => fn((globalThis as any).Set)],
  // rrweb wraps CSSOM methods in proxies to see style changes.
  ['Proxy', () => fn((globalThis as any).Proxy)],
  ['Reflect', () => typeof (globalThis as any).Reflect === 'object'],
  ['Promise', () => fn((globalThis as any).Promise)],
  ['requestAnimationFrame', () => fn((globalThis as any).requestAnimationFrame)],
  ['Element.prototype.matches', () => typeof Element !== 'undefined' && fn(Element.prototype.matches)],
  ['Element.prototype.closest', () => typeof Element !== 'undefined' && fn(Element.prototype.closest)],
  ['Event.prototype.composedPath', () => typeof Event !== 'undefined' && fn(Event.prototype.composedPath)],
  // Our frames: UTF-8 JSON behind a binary header, sent on the WebSocket.
  ['TextEncoder', () => fn((globalThis as any).TextEncoder)],
  ['ArrayBuffer', () => fn((globalThis as any).ArrayBuffer)],
  ['Uint8Array', () => fn((globalThis as any).Uint8Array)],
  ['DataView', () => fn((globalThis as any).DataView)],
  ['WebSocket', () => fn((globalThis as any).WebSocket)],
  // The connection probe's incompressible bytes.
  ['crypto.getRandomValues', () => typeof crypto === 'object' && !!crypto && fn(crypto.getRandomValues)],
];

/** Names of the APIs this browser lacks for a screen broadcast (empty: all there). */
export function checkSupport(): string[] {
  const missing: string[] = [];
  for (const [name, ok] of CHECKS) {
    let present = false;
    try {
      present = ok();
    } catch {
      present = false;
    }
    if (!present) missing.push(name);
  }
  return missing;
}
