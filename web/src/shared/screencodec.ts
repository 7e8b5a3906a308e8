// The body of a screen frame (docs/protocol.md, "Frame bodies"): rrweb events
// in a compact JSON form, written by the agent and read back by the console.
// The server never looks inside.
//
// What it leaves out, and why that is lossless for a live replica:
//   - every event's `timestamp`: the console restamps each event with its own
//     clock on arrival (the visitor's clock never enters the Replayer);
//   - in a full snapshot, the key names and the node ids: rrweb numbers the
//     nodes of a snapshot one by one in pre-order, so an id equal to the
//     previous one + 1 is implied (any other is written out). Ids were half of
//     a deflated snapshot;
//   - in a pointer move, absolute coordinates: the move from the previous
//     position, and the target node only when it changes.
// State (the last pointer position) starts afresh with every keyframe, so a
// viewer that joins at the cached keyframe decodes the tail after it.
//
// Items of the body array:
//   {…}                     any rrweb event, without `timestamp`
//   [2, node, offset]       FullSnapshot: `node` compact (below), offset {top, left}
//   [1, dx, dy]             MouseMove of one position; [1, dx, dy, id] when the target changed
// Compact nodes:
//   "text"                  a text node with the implied id
//   [tag, attrs | 0, …kids] an element with the implied id ("~tag": an SVG element)
//   {…, c?: kids}           any other node as rrweb serialized it, id included
//                           (children, if any, in `c`, compact)

import type { eventWithTime, serializedNodeWithId } from '@rrweb/types';

const EV_FULL_SNAPSHOT = 2;
const EV_INCREMENTAL = 3;
const SRC_MOUSE_MOVE = 1;
const NODE_ELEMENT = 2;
const NODE_TEXT = 3;

const ITEM_MOVE = 1;
const ITEM_SNAPSHOT = 2;
/** Marks an SVG element's tag (no HTML tag name starts with it). */
const SVG_MARK = '~';

/** What both ends remember between frames (reset at each keyframe). */
export interface CodecState {
  x: number;
  y: number;
  target: number;
}

export function newCodecState(): CodecState {
  return { x: 0, y: 0, target: 0 };
}

// ---- encoding (the visitor's page) ------------------------------------------------

type Compact = unknown;
type RrNode = serializedNodeWithId & Record<string, unknown>;
type Attrs = Record<string, unknown>;

/** The JSON text of each compact item of `events` (to split a large delta between events). */
export function encodeItems(events: eventWithTime[], state: CodecState): string[] {
  return events.map((e) => (e.type === EV_FULL_SNAPSHOT ? encodeFrame([e], state).slice(1, -1) : JSON.stringify(encodeEvent(e, state))));
}

/**
 * What the agent's privacy filter does to a full snapshot's nodes on the way
 * out (agent/filter.ts): zones are inherited down the tree from the element
 * that starts one.
 */
export interface SnapshotFilter {
  /** Whether the element with this id starts a masked zone. */
  zoneRoot(id: number): boolean;
  /** An element's attributes as they may leave (a copy if changed; never the input). */
  attrs(a: Attrs, tag: string, zone: boolean): Attrs;
  /** A text node's content as it may leave. */
  text(t: string, zone: boolean): string;
}

/** A frame body: the JSON text of `events`' compact items. */
export function encodeFrame(events: eventWithTime[], state: CodecState, filter?: SnapshotFilter): string {
  const w = new FrameWriter(events, state, filter);
  w.step(Infinity);
  return w.result();
}

/**
 * Writes a frame body straight to JSON text, in slices: `step(deadline)`
 * writes until the deadline and says whether it is done, so that a snapshot of
 * a large page can be written across several tasks without one long one.
 * No compact tree is built in between: each node is written as it is visited.
 * `filter` may change nodes on the way (never the input).
 */
export class FrameWriter {
  private readonly out: string[] = ['['];
  private next = 0;
  /** The snapshot being written: a stack of open nodes. */
  private stack: { kids: RrNode[] | undefined; i: number; close: string; zone: boolean }[] = [];
  private readonly ids = { next: -1 };

  constructor(
    private readonly events: eventWithTime[],
    private readonly state: CodecState,
    private readonly filter?: SnapshotFilter,
  ) {}

  /** Writes until `deadline` (performance.now()) or the end; true when done. */
  step(deadline: number): boolean {
    let budget = 0;
    for (;;) {
      if (this.stack.length) {
        // Check the clock every 256 nodes: reading it costs more than a node.
        if (++budget >= 256) {
          budget = 0;
          if (performance.now() >= deadline) return false;
        }
        this.snapshotStep();
        continue;
      }
      if (this.next >= this.events.length) return true;
      const e = this.events[this.next++];
      if (this.next > 1) this.out.push(',');
      if (e.type === EV_FULL_SNAPSHOT) {
        const d = e.data as { node: RrNode; initialOffset: unknown };
        this.ids.next = -1;
        this.out.push(`[${ITEM_SNAPSHOT},`);
        this.open(d.node, `,${JSON.stringify(d.initialOffset)}]`, false);
      } else {
        this.out.push(JSON.stringify(encodeEvent(e, this.state)));
      }
    }
  }

  /** The JSON text (once `step` said it is done). */
  result(): string {
    return this.out.join('') + ']';
  }

  /** Writes the next child of the innermost open node, or closes it. */
  private snapshotStep(): void {
    const top = this.stack[this.stack.length - 1];
    if (!top.kids || top.i >= top.kids.length) {
      this.stack.pop();
      this.out.push(top.close);
      return;
    }
    if (top.i > 0) this.out.push(',');
    this.open(top.kids[top.i++], '', top.zone);
  }

  /** Writes a node's head; its children follow (it goes on the stack). `zone`: inside a masked zone. */
  private open(n: RrNode, after: string, zone: boolean): void {
    const out = this.out;
    const f = this.filter;
    const implied = n.id === this.ids.next;
    this.ids.next = n.id + 1;
    const kids = (n as { childNodes?: RrNode[] }).childNodes;
    if (n.type === NODE_ELEMENT && f && !zone) zone = f.zoneRoot(n.id);
    if (implied && n.type === NODE_TEXT && plain(n, TEXT_KEYS)) {
      const t = (n as { textContent: string }).textContent;
      out.push(JSON.stringify(f ? f.text(t, zone) : t), after);
      return;
    }
    if (implied && n.type === NODE_ELEMENT && plain(n, ELEMENT_KEYS, 'isSVG')) {
      const el = n as unknown as { tagName: string; attributes: Attrs; isSVG?: boolean };
      const attrs = f ? f.attrs(el.attributes, el.tagName, zone) : el.attributes;
      const tag = el.isSVG ? SVG_MARK + el.tagName : el.tagName;
      out.push('[', JSON.stringify(tag), ',', hasKeys(attrs) ? JSON.stringify(attrs) : '0');
      // Children follow a comma each: the element's head is already written.
      this.stack.push({ kids, i: 0, close: ']' + after, zone });
      if (kids?.length) out.push(',');
      return;
    }
    const obj: Record<string, unknown> = {};
    for (const k in n) if (k !== 'childNodes') obj[k] = n[k];
    if (f && n.type === NODE_ELEMENT) obj.attributes = f.attrs(obj.attributes as Attrs, obj.tagName as string, zone);
    // A style sheet's text is layout; any other text is content.
    if (f && n.type === NODE_TEXT && !obj.isStyle && typeof obj.textContent === 'string') obj.textContent = f.text(obj.textContent, zone);
    const head = JSON.stringify(obj);
    if (!kids) {
      out.push(head, after);
      return;
    }
    out.push(head.slice(0, -1), ',"c":[');
    this.stack.push({ kids, i: 0, close: ']}' + after, zone });
  }
}

function encodeEvent(e: eventWithTime, state: CodecState): Compact {
  const d = e.data as Record<string, any>;
  if (e.type === EV_INCREMENTAL && d.source === SRC_MOUSE_MOVE && d.positions?.length === 1) {
    const p = d.positions[0];
    const item: number[] = [ITEM_MOVE, p.x - state.x, p.y - state.y];
    if (p.id !== state.target) item.push(p.id);
    state.x = p.x;
    state.y = p.y;
    state.target = p.id;
    return item;
  }
  const { timestamp: _t, ...rest } = e as eventWithTime & { timestamp: number };
  return rest;
}

const TEXT_KEYS = new Set(['type', 'textContent', 'id']);
const ELEMENT_KEYS = new Set(['type', 'tagName', 'attributes', 'childNodes', 'id']);

/**
 * Whether `n` has no keys but `keys` (and `extra`, if true). rrweb leaves
 * unset flags as keys with `undefined` (JSON drops them): they count as absent.
 */
function plain(n: object, keys: Set<string>, extra?: string): boolean {
  for (const k in n) {
    if (keys.has(k)) continue;
    const v = (n as Record<string, unknown>)[k];
    if (v === undefined || (k === extra && v === true)) continue;
    return false;
  }
  return true;
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

// ---- decoding (the console) -------------------------------------------------------

/** Why a body could not be read. */
export class CodecError extends Error {}

/** rrweb events from a frame body's items (timestamps 0: the caller stamps them). */
export function decodeEvents(items: unknown, state: CodecState): eventWithTime[] {
  if (!Array.isArray(items)) throw new CodecError('a frame body is a JSON array');
  const out: eventWithTime[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) out[i] = decodeItem(items[i], state);
  return out;
}

function decodeItem(item: unknown, state: CodecState): eventWithTime {
  if (Array.isArray(item)) {
    switch (item[0]) {
      case ITEM_MOVE: {
        state.x += num(item[1]);
        state.y += num(item[2]);
        if (item.length > 3) state.target = num(item[3]);
        const position = { x: state.x, y: state.y, id: state.target, timeOffset: 0 };
        return { type: EV_INCREMENTAL, data: { source: SRC_MOUSE_MOVE, positions: [position] }, timestamp: 0 } as eventWithTime;
      }
      case ITEM_SNAPSHOT: {
        const node = decodeNode(item[1], { next: -1 });
        return { type: EV_FULL_SNAPSHOT, data: { node, initialOffset: item[2] ?? { top: 0, left: 0 } }, timestamp: 0 } as eventWithTime;
      }
      default:
        throw new CodecError(`unknown compact item ${JSON.stringify(item[0])}`);
    }
  }
  if (item && typeof item === 'object' && typeof (item as { type?: unknown }).type === 'number') {
    (item as { timestamp: number }).timestamp = 0;
    return item as eventWithTime;
  }
  throw new CodecError('an item is neither an event nor a compact array');
}

function decodeNode(c: unknown, ids: { next: number }): serializedNodeWithId {
  if (typeof c === 'string') {
    return { type: NODE_TEXT, textContent: c, id: ids.next++ } as serializedNodeWithId;
  }
  if (Array.isArray(c)) {
    const raw = c[0];
    if (typeof raw !== 'string') throw new CodecError('an element needs a tag name');
    const svg = raw.startsWith(SVG_MARK);
    const el: Record<string, unknown> = {
      type: NODE_ELEMENT,
      tagName: svg ? raw.slice(1) : raw,
      attributes: c[1] && typeof c[1] === 'object' ? c[1] : {},
      childNodes: [],
      id: ids.next++,
    };
    if (svg) el.isSVG = true;
    const kids = el.childNodes as serializedNodeWithId[];
    for (let i = 2; i < c.length; i++) kids.push(decodeNode(c[i], ids));
    return el as unknown as serializedNodeWithId;
  }
  if (c && typeof c === 'object') {
    const { c: kids, ...node } = c as Record<string, unknown>;
    const id = num(node.id);
    ids.next = id + 1;
    if (Array.isArray(kids)) node.childNodes = kids.map((k) => decodeNode(k, ids));
    return node as unknown as serializedNodeWithId;
  }
  throw new CodecError('a node is neither text, an element nor an object');
}

function num(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new CodecError('expected a number');
  return v;
}
