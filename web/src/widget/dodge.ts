// Keeps the open panel off the page's own form fields on a desktop viewport:
// it goes to the other side of the screen, or gets shorter, whichever leaves
// the fields free (the visitor can also move it, or collapse it to the
// launcher). On a phone the panel is the whole screen by design.

/** Below this width the panel fills the screen (see styles.ts). */
const PHONE_MAX = 480;
/** The host's distance from the screen's edges, and the panel's gap above the launcher. */
const EDGE = 20;
const ABOVE_LAUNCHER = 72;
/** The shortest the panel gets to stay clear of fields below it. */
const MIN_HEIGHT = 300;
const FIELDS = 'input:not([type="hidden"]), textarea, select, button, [contenteditable="true"], [contenteditable=""]';

export type Side = 'right' | 'left';

interface Box { left: number; top: number; right: number; bottom: number }

/** The page's fields in view (the widget lives in a shadow root: none of its own are found). */
function fields(): Box[] {
  const out: Box[] = [];
  for (const el of document.querySelectorAll(FIELDS)) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth) out.push(r);
  }
  return out;
}

function overlap(a: Box, b: Box): number {
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Where the panel goes: a side, and a height limit (`null`: its own). */
export interface Place { side: Side; maxHeight: number | null }

/** The place for a panel of this size that covers the fewest fields (none if it can). */
export function place(width: number, height: number, preferred: Side): Place {
  if (innerWidth <= PHONE_MAX) return { side: preferred, maxHeight: null };
  const bottom = innerHeight - EDGE - ABOVE_LAUNCHER;
  const boxAt = (side: Side, h: number): Box => side === 'right'
    ? { left: innerWidth - EDGE - width, right: innerWidth - EDGE, top: bottom - h, bottom }
    : { left: EDGE, right: EDGE + width, top: bottom - h, bottom };
  const found = fields();
  const covered = (b: Box) => found.filter((f) => overlap(f, b) > 0);
  const sides: Side[] = preferred === 'right' ? ['right', 'left'] : ['left', 'right'];
  for (const side of sides) if (covered(boxAt(side, height)).length === 0) return { side, maxHeight: null };
  // Both sides cover some: shorter, down to below the lowest field it covers, if that leaves enough.
  for (const side of sides) {
    const lowest = Math.max(...covered(boxAt(side, height)).map((f) => f.bottom));
    const h = bottom - lowest - 8;
    if (h >= MIN_HEIGHT && covered(boxAt(side, h)).length === 0) return { side, maxHeight: h };
  }
  // Nowhere clear: the side that covers least.
  const area = (side: Side) => covered(boxAt(side, height)).reduce((n, f) => n + overlap(f, boxAt(side, height)), 0);
  return { side: area(sides[0]) <= area(sides[1]) ? sides[0] : sides[1], maxHeight: null };
}
