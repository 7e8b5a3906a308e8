// The last wall before a screen frame leaves the page: every serialized node,
// attribute change, text change, input event and pointer position passes
// through here, whatever rrweb decided (docs/privacy.md lists each rule).
//
//   - URLs: links' hrefs, forms' actions, frames' sources and the page address
//     follow the URL rule (shared/urlmask.ts).
//   - Masked zones: inside [data-chatcast-mask], .rr-mask and the admin's mask
//     selectors — across open shadow roots and same-origin frames — text is
//     masked, attributes a person could read or that carry data are masked or
//     dropped, and only what layout needs stays (ZONE_KEEP); input values and
//     checked/selected states are masked.
//   - Hidden areas: over a blocked element (a private block, a secret field,
//     the widget) no pointer position, click or touch leaves the page; the
//     replica is told only that the pointer is over a hidden area.

import type { eventWithTime } from '@rrweb/types';
import { maskUrl } from '../shared/urlmask';
import { INPUT_MASK, type Rules, closestDeep, maskText, queryRoots } from './privacy';

type Attrs = Record<string, unknown>;

// rrweb event types and incremental sources (@rrweb/types), as numbers.
const EV_INCREMENTAL = 3;
const EV_META = 4;
const SRC_MUTATION = 0;
const SRC_MOUSE_MOVE = 1;
const SRC_MOUSE_INTERACTION = 2;
const SRC_INPUT = 5;
const SRC_TOUCH_MOVE = 6;
const SRC_DRAG = 12;
const NODE_ELEMENT = 2;
const NODE_TEXT = 3;

/** Attributes that hold a URL, per tag: they follow the URL rule everywhere. */
const URL_ATTRS: Record<string, readonly string[]> = {
  a: ['href', 'ping', 'xlink:href'],
  area: ['href', 'ping'],
  form: ['action'],
  button: ['formaction'],
  input: ['formaction'],
  iframe: ['src', 'rr_src'],
  frame: ['src', 'rr_src'],
};

/** What stays of an element inside a masked zone: layout, never content. */
const ZONE_KEEP = new Set([
  // HTML layout and structure
  'class', 'style', 'id', 'width', 'height', 'type', 'role', 'dir', 'lang', 'hidden', 'tabindex', 'colspan', 'rowspan',
  'span', 'cols', 'rows', 'size', 'disabled', 'readonly', 'required', 'multiple', 'open', 'rel', 'media', 'sizes',
  'align', 'valign', 'border', 'cellpadding', 'cellspacing', 'frameborder', 'scope', 'name', 'for', 'autocomplete',
  'inputmode', 'draggable', 'contenteditable', 'spellcheck', 'loading', 'decoding', 'crossorigin',
  // rrweb's own (sizes of blocked elements, scroll positions, inlined CSS, dialogs)
  '_cssText', 'rr_width', 'rr_height', 'rr_scrollLeft', 'rr_scrollTop', 'rr_open_mode',
  // SVG geometry and paint (icons keep their shape)
  'xmlns', 'xmlns:xlink', 'viewBox', 'preserveAspectRatio', 'd', 'fill', 'stroke', 'stroke-width', 'stroke-linecap',
  'stroke-linejoin', 'stroke-miterlimit', 'stroke-dasharray', 'stroke-dashoffset', 'fill-rule', 'clip-rule', 'opacity',
  'fill-opacity', 'stroke-opacity', 'transform', 'x', 'y', 'x1', 'x2', 'y1', 'y2', 'cx', 'cy', 'r', 'rx', 'ry', 'points',
  'offset', 'stop-color', 'stop-opacity', 'gradientUnits', 'gradientTransform', 'clip-path', 'mask', 'filter',
  'display', 'visibility', 'overflow', 'vector-effect', 'pathLength', 'shape-rendering',
]);
/** Inside a zone, text a person reads in an attribute: masked character by character (the layout stays). */
const ZONE_TEXT = new Set([
  'title', 'placeholder', 'alt', 'aria-label', 'aria-description', 'aria-roledescription', 'aria-valuetext',
  'aria-placeholder', 'label', 'summary', 'abbr', 'content',
]);
/** Inside a zone, attributes that load or link something: dropped (nothing is fetched for a masked zone). */
const ZONE_DROP = new Set([
  'href', 'src', 'srcset', 'action', 'formaction', 'poster', 'xlink:href', 'background', 'cite', 'data', 'ping',
  'longdesc', 'manifest', 'codebase', 'archive', 'usemap', 'rr_src', 'rr_dataURL', 'checked', 'selected',
]);

/** Class the replica draws as a grey box (rrweb's own block class). */
const BLOCKED_CLASS = 'rr-block';

/** Where the pointer is, as far as the consultant may know. */
export type PointerPlace = 'page' | 'hidden';

interface SerializedNode {
  type: number;
  id: number;
  tagName?: string;
  attributes?: Attrs;
  textContent?: string;
  childNodes?: SerializedNode[];
}

interface Mirror {
  getNode(id: number): Node | null;
}

export class PrivacyFilter {
  /** Masked zones' root elements, found once per snapshot (null: none on the page). */
  private zones: Set<Node> | null = null;

  constructor(
    private readonly r: Rules,
    private readonly mirror: Mirror,
    private readonly roots: () => Iterable<Document | ShadowRoot>,
  ) {}

  // ---- full snapshots (screencodec's FrameWriter calls these)

  /** Finds the zones before a snapshot is written: a set lookup per node instead of a selector match. */
  beginSnapshot(): void {
    const found = queryRoots(this.roots(), this.r.maskSelector);
    this.zones = found.length ? new Set(found) : null;
  }

  /** Whether the snapshot's element `id` starts a masked zone. */
  zoneRoot = (id: number): boolean => {
    if (!this.zones) return false;
    const n = this.mirror.getNode(id);
    return !!n && this.zones.has(n);
  };

  /** An element's attributes as they may leave the page (a copy when anything changes). */
  attrs = (a: Attrs, tag: string, zone: boolean): Attrs => {
    let out = a;
    const own = () => (out === a ? (out = { ...a }) : out);
    if ('rr_width' in a) {
      // Blocked: rrweb kept its class and size only. It gets the class the
      // replica draws as a box, whatever selector blocked it.
      const cls = typeof a.class === 'string' ? a.class : '';
      if (!/(^|\s)rr-block(\s|$)/.test(cls)) own().class = cls ? `${cls} ${BLOCKED_CLASS}` : BLOCKED_CLASS;
      return out;
    }
    if (zone) {
      for (const k of Object.keys(a)) {
        const v = a[k];
        if (ZONE_KEEP.has(k) || v === null) continue;
        if (ZONE_DROP.has(k) || k.startsWith('on')) delete own()[k];
        else if (ZONE_TEXT.has(k) && typeof v === 'string') own()[k] = maskText(v);
        else if (k === 'value') own()[k] = v === '' ? '' : INPUT_MASK;
        // data-*, aria-*, anything else: present, but never its value.
        else own()[k] = '•••';
      }
      return out;
    }
    const urls = URL_ATTRS[tag];
    if (urls) {
      for (const k of urls) {
        const v = a[k];
        if (typeof v === 'string') {
          const m = maskUrl(v, this.r.keepUrlParams);
          if (m !== v) own()[k] = m;
        }
      }
    }
    return out;
  };

  /** A text node's content as it may leave the page. */
  text = (t: string, zone: boolean): string => (zone ? maskText(t) : t);

  // ---- everything after the snapshot

  /** An event as it may leave the page, or null to drop it. `hidden` hears where the pointer went. */
  event(e: eventWithTime, hidden: (over: boolean) => void): eventWithTime | null {
    const d = e.data as Record<string, any>;
    if (e.type === EV_META) {
      if (typeof d.href === 'string') d.href = maskUrl(d.href, this.r.keepUrlParams);
      return e;
    }
    if (e.type !== EV_INCREMENTAL) return e;
    switch (d.source) {
      case SRC_MUTATION:
        this.mutation(d);
        return e;
      case SRC_INPUT: {
        const node = this.mirror.getNode(d.id);
        if (!node || this.inZone(node) || this.blocked(node)) {
          if (d.text) d.text = INPUT_MASK;
          d.isChecked = false;
        }
        return e;
      }
      case SRC_MOUSE_MOVE:
      case SRC_TOUCH_MOVE:
      case SRC_DRAG: {
        const ps = d.positions as { x: number; y: number; id: number }[] | undefined;
        if (!ps?.length) return e;
        const visible = ps.filter((p) => this.place(p.id, p.x, p.y) === 'page');
        hidden(visible.length === 0);
        if (!visible.length) return null;
        d.positions = visible;
        return e;
      }
      case SRC_MOUSE_INTERACTION:
        if (typeof d.id === 'number' && this.place(d.id, d.x, d.y) === 'hidden') {
          hidden(true);
          return null;
        }
        return e;
      default:
        return e;
    }
  }

  /** Where a pointer over the node `id` (at x, y in the viewport) is. */
  private place(id: number, x: number, y: number): PointerPlace {
    let node = this.mirror.getNode(id);
    if (!node && typeof x === 'number' && typeof y === 'number') {
      // Not serialized: inside a blocked element, or the widget's shadow root.
      node = document.elementFromPoint(x, y);
    }
    return !node || this.blocked(node) ? 'hidden' : 'page';
  }

  /** Where a pointer over this element is (PresenceTracker asks for its own events). */
  placeOf(target: EventTarget | null): PointerPlace {
    const n = target as Node | null;
    return !n || typeof n.nodeType !== 'number' || this.blocked(n) ? 'hidden' : 'page';
  }

  private blocked(node: Node): boolean {
    try {
      // The block selector names the widget's host too.
      return !!closestDeep(node, this.r.blockSelector);
    } catch {
      return true;
    }
  }

  private inZone(node: Node): boolean {
    try {
      return !!closestDeep(node, this.r.maskSelector);
    } catch {
      return true;
    }
  }

  private mutation(d: Record<string, any>): void {
    const get = (id: number) => this.mirror.getNode(id);
    if (Array.isArray(d.adds)) {
      for (const add of d.adds as { parentId: number; node: SerializedNode }[]) {
        const parent = get(add.parentId);
        this.walk(add.node, !!parent && this.inZone(parent));
      }
    }
    if (Array.isArray(d.texts)) {
      for (const t of d.texts as { id: number; value: string | null }[]) {
        const n = get(t.id);
        if (typeof t.value === 'string' && (!n || this.inZone(n))) t.value = maskText(t.value);
      }
    }
    if (Array.isArray(d.attributes)) {
      for (const m of d.attributes as { id: number; attributes: Attrs }[]) {
        const n = get(m.id) as Element | null;
        const tag = n?.nodeType === 1 ? n.tagName.toLowerCase() : '';
        m.attributes = this.attrs(m.attributes, tag, !n || this.inZone(n));
      }
    }
  }

  /** An added subtree, zones inside it included. */
  private walk(root: SerializedNode, zone: boolean): void {
    const stack: [SerializedNode, boolean][] = [[root, zone]];
    while (stack.length) {
      const [n, z] = stack.pop()!;
      if (n.type === NODE_TEXT && typeof n.textContent === 'string') {
        n.textContent = this.text(n.textContent, z);
        continue;
      }
      let zz = z;
      if (n.type === NODE_ELEMENT) {
        if (!zz) {
          const el = this.mirror.getNode(n.id) as Element | null;
          zz = !!el && el.nodeType === 1 && safeMatches(el, this.r.maskSelector);
        }
        if (n.attributes) n.attributes = this.attrs(n.attributes, (n.tagName || '').toLowerCase(), zz);
      }
      if (n.childNodes) for (let i = n.childNodes.length - 1; i >= 0; i--) stack.push([n.childNodes[i], zz]);
    }
  }
}

function safeMatches(el: Element, selector: string): boolean {
  try {
    return el.matches(selector);
  } catch {
    return true;
  }
}
