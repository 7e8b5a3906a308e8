// What the consultant should know about the visitor beside the page itself,
// sent as rrweb custom events (docs/protocol.md, "Screen broadcast"):
//   chatcast/presence {state: active | tab_hidden | window_blurred | idle}
//   chatcast/pointer  {state: inside | outside | hidden, x?, y?}
// rrweb throttles mouse moves without a trailing call, so the pointer's
// resting place can be lost; a pause in movement sends it as {state: inside, x, y}.
//   chatcast/click    {state: down, x, y}
// The press is reported here by position only (never the target), so the
// consultant sees clicks rrweb does not record. Over a hidden area (a private
// block, a secret field, the widget) neither a press nor a resting place is
// reported: only {state: hidden}, once (filter.ts does the same for rrweb's
// own pointer events), so that a PIN pad inside a private block stays private.
// Listeners are passive and do almost nothing per event: activity only
// stamps a time, a timer decides about idleness.

export const TAG_PRESENCE = 'chatcast/presence';
export const TAG_POINTER = 'chatcast/pointer';
export const TAG_CLICK = 'chatcast/click';

export type Presence = 'active' | 'tab_hidden' | 'window_blurred' | 'idle';
export type Pointer = 'inside' | 'outside' | 'hidden';

/** No pointer, keyboard, touch or scroll for this long: idle. */
export const IDLE_MS = 60_000;
const IDLE_CHECK_MS = 5_000;

/** A pointer that stopped this long is where the consultant's circle must rest. */
const POINTER_REST_MS = 40;

const ACTIVITY_EVENTS = ['mousemove', 'pointerdown', 'keydown', 'wheel', 'scroll', 'touchstart'] as const;

export class PresenceTracker {
  private presence: Presence | null = null;
  private pointer: Pointer | null = null;
  private blurred = false;
  private lastActivity = Date.now();
  private timer: ReturnType<typeof setInterval> | null = null;
  private blurTimer: ReturnType<typeof setTimeout> | null = null;
  private restTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly rest = { x: 0, y: 0, target: null as EventTarget | null };
  private lastMoveAt = 0;
  private running = false;
  private readonly off: (() => void)[] = [];

  constructor(
    private readonly emit: (tag: string, payload: { state: string; x?: number; y?: number }) => void,
    /** Whether a pointer over this target may be shown ('page') or not ('hidden'). */
    private readonly place: (target: EventTarget | null) => 'page' | 'hidden' = () => 'page',
  ) {}

  /** Starts listening and reports the current presence at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastActivity = Date.now();
    try {
      this.blurred = typeof document.hasFocus === 'function' ? !document.hasFocus() : false;
    } catch {
      this.blurred = false;
    }
    const opts = { capture: true, passive: true } as const;
    const listen = (target: EventTarget, type: string, fn: (ev: Event) => void) => {
      target.addEventListener(type, fn, opts);
      this.off.push(() => target.removeEventListener(type, fn, opts));
    };
    const activity = () => this.onActivity();
    for (const type of ACTIVITY_EVENTS) listen(window, type, activity);
    listen(document, 'visibilitychange', () => {
      if (document.visibilityState === 'visible') this.lastActivity = Date.now();
      this.update();
    });
    listen(window, 'blur', (ev) => {
      if (ev.target !== window) return; // an element lost focus, not the window
      // Focus moving into one of the page's iframes blurs the window too: that is not leaving.
      if (this.blurTimer) clearTimeout(this.blurTimer);
      this.blurTimer = setTimeout(() => {
        this.blurTimer = null;
        const el = document.activeElement;
        const intoFrame = !!el && (el.tagName === 'IFRAME' || el.tagName === 'FRAME') && document.hasFocus();
        if (intoFrame) return;
        this.blurred = true;
        this.update();
      }, 0);
    });
    listen(window, 'focus', (ev) => {
      if (ev.target !== window) return;
      if (this.blurTimer) clearTimeout(this.blurTimer);
      this.blurTimer = null;
      this.blurred = false;
      this.lastActivity = Date.now();
      this.update();
    });
    // The pointer leaving the window: mouseout with no element to go to.
    listen(document, 'mouseout', (ev) => {
      if (!(ev as MouseEvent).relatedTarget) this.setPointer('outside');
    });
    listen(document.documentElement, 'mouseleave', (ev) => {
      if (!(ev as MouseEvent).relatedTarget) this.setPointer('outside');
    });
    const back = () => {
      if (this.pointer === 'outside') this.setPointer('inside');
    };

    listen(document, 'mouseover', back);
    listen(window, 'pointerdown', (ev) => {
      const p = ev as PointerEvent;
      if (p.button !== 0 || !p.isPrimary) return;
      if (this.place(targetOf(p)) === 'hidden') this.setPointer('hidden');
      else this.emit(TAG_CLICK, { state: 'down', x: p.clientX, y: p.clientY });
    });
    // One timer for the rest check, not one per move: at 60 moves a second,
    // re-arming a timeout on each was a measurable part of the page's cost.
    const checkRest = () => {
      const wait = this.lastMoveAt + POINTER_REST_MS - performance.now();
      if (wait > 1) {
        this.restTimer = setTimeout(checkRest, wait);
        return;
      }
      this.restTimer = null;
      if (!this.running || this.pointer === 'outside') return;
      if (this.place(this.rest.target) === 'hidden') this.setPointer('hidden');
      else {
        this.pointer = 'inside';
        this.emit(TAG_POINTER, { state: 'inside', x: this.rest.x, y: this.rest.y });
      }
    };
    listen(window, 'mousemove', (ev) => {
      back();
      const m = ev as MouseEvent;
      this.rest.x = m.clientX;
      this.rest.y = m.clientY;
      this.rest.target = targetOf(m);
      // Back over the page from a hidden area: rrweb's own moves show the pointer again.
      if (this.pointer === 'hidden' && this.place(this.rest.target) === 'page') this.pointer = 'inside';
      this.lastMoveAt = performance.now();
      if (!this.restTimer) this.restTimer = setTimeout(checkRest, POINTER_REST_MS);
    });
    this.timer = setInterval(() => this.update(), IDLE_CHECK_MS);
    this.update(true);
  }

  /** Says the current state again (after a keyframe: late viewers start from there). */
  reemit(): void {
    if (!this.running) return;
    this.update(true);
    if (this.pointer) this.emit(TAG_POINTER, { state: this.pointer });
  }

  stop(): void {
    this.running = false;
    for (const off of this.off.splice(0)) off();
    if (this.timer) clearInterval(this.timer);
    if (this.blurTimer) clearTimeout(this.blurTimer);
    if (this.restTimer) clearTimeout(this.restTimer);
    this.timer = this.blurTimer = this.restTimer = null;
  }

  get state(): Presence | null {
    return this.presence;
  }

  private onActivity(): void {
    this.lastActivity = Date.now();
    if (this.presence === 'idle') this.update();
  }

  private compute(): Presence {
    if (document.visibilityState === 'hidden') return 'tab_hidden';
    if (this.blurred) return 'window_blurred';
    if (Date.now() - this.lastActivity >= IDLE_MS) return 'idle';
    return 'active';
  }

  private update(force = false): void {
    if (!this.running) return;
    const next = this.compute();
    if (!force && next === this.presence) return;
    this.presence = next;
    this.emit(TAG_PRESENCE, { state: next });
  }

  private setPointer(state: Pointer): void {
    if (!this.running || this.pointer === state) return;
    this.pointer = state;
    this.emit(TAG_POINTER, { state });
  }
}

/** The innermost target of an event, inside open shadow roots too. */
function targetOf(ev: Event): EventTarget | null {
  const path = typeof ev.composedPath === 'function' ? ev.composedPath() : [];
  return path[0] ?? ev.target;
}
