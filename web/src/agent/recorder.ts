// The recorder: rrweb's record() with the privacy rules of privacy.ts,
// batched into binary frames (frame.ts) for the server to relay.
//
// Batching: events emitted in the same task go out together, in a microtask
// (not requestAnimationFrame, which stops in hidden tabs): a DOM change leaves
// the page within the task that made it. A full snapshot is written out after
// rrweb's own task, in slices of a few milliseconds (MessageChannel tasks,
// which background tabs do not throttle), so that encoding a large page adds
// no long task of its own; what the page does meanwhile waits and follows it.
// Each batch is encoded straight to JSON text (shared/screencodec.ts).

import { record } from '@rrweb/record';
import type { eventWithTime } from '@rrweb/types';
import { type CodecState, FrameWriter, encodeItems, newCodecState } from '../shared/screencodec';
import type { AgentSession, StartOptions } from './api';
import { HEADER_BYTES, KIND_DELTA, KIND_KEYFRAME, writeHeader } from './frame';
import { PrivacyFilter } from './filter';
import { PresenceTracker, TAG_POINTER } from './presence';
import { rrwebPrivacy, rules } from './privacy';

type RrEvent = eventWithTime;
type RecordOptions = NonNullable<Parameters<typeof record<RrEvent>>[0]>;

// rrweb's event types and incremental sources (@rrweb/types), as numbers.
const EV_FULL_SNAPSHOT = 2;
const EV_INCREMENTAL = 3;
const EV_META = 4;
const EV_CUSTOM = 5;
const SRC_MUTATION = 0;
const SRC_SELECTION = 14;
const SRC_ADOPTED_STYLE_SHEET = 15;

/** The server's default limit for a screen frame (max_screen_frame_bytes). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Keyframe requests this soon after a keyframe was sent are for frames already in flight. */
const KEYFRAME_DEBOUNCE_MS = 1500;
/** A keyframe is written in slices of at most this long (well under a 50 ms long task). */
const SLICE_MS = 8;

/**
 * Live viewing, not session replay (FIELD-NOTES): pointer positions every
 * 16 ms and sent every 16 ms (rrweb batches them for 500 ms by default),
 * every keystroke of an input (not only the last value on blur).
 */
export const SAMPLING = {
  mousemove: 16,
  mousemoveCallback: 16,
  scroll: 50,
  media: 800,
  input: 'all',
} as const;

const encoder = typeof TextEncoder === 'function' ? new TextEncoder() : null;

export function startRecording(opts: StartOptions): AgentSession {
  const session = new Session(opts);
  session.begin();
  return session;
}

class Session implements AgentSession {
  private stopped = false;
  private stopFn: (() => void) | null = null;
  private seq = 0;
  private batch: RrEvent[] = [];
  private batchKind = KIND_DELTA;
  /** A keyframe went out: deltas may follow. */
  private chained = false;
  private microtaskQueued = false;
  private flushQueued = false;
  /** Work for the next macrotask (run from the MessageChannel). */
  private tasks: (() => void)[] = [];
  /** A keyframe being written in slices; deltas wait until it is sent. */
  private writing: FrameWriter | null = null;
  private lastKeyframeAt = -Infinity;
  private channel: MessageChannel | null = null;
  private readonly presence: PresenceTracker;
  private waitForDom: (() => void) | null = null;
  /** The encoder's memory (the last pointer position); starts afresh at each keyframe. */
  private codec: CodecState = newCodecState();
  private readonly rules;
  /** The last wall: every node and event passes through it (filter.ts). */
  private readonly filter: PrivacyFilter;
  /** The pointer is over a hidden area (the replica was told; no position follows). */
  private pointerHidden = false;

  constructor(private readonly opts: StartOptions) {
    this.rules = rules(opts.privacy);
    this.filter = new PrivacyFilter(this.rules, record.mirror, () => opts.secrets.knownRoots);
    this.presence = new PresenceTracker((tag, payload) => this.custom(tag, payload), (target) => this.filter.placeOf(target));
  }

  get active(): boolean {
    return !this.stopped;
  }

  begin(): void {
    if (document.readyState === 'loading') {
      // rrweb would wait for `load`; the DOM is enough.
      const go = () => {
        this.waitForDom = null;
        if (!this.stopped) this.begin();
      };
      document.addEventListener('DOMContentLoaded', go, { once: true });
      this.waitForDom = () => document.removeEventListener('DOMContentLoaded', go);
      return;
    }
    try {
      this.channel = new MessageChannel();
      this.channel.port1.onmessage = () => {
        const due = this.tasks;
        this.tasks = [];
        for (const f of due) f();
      };
    } catch {
      this.channel = null;
    }
    // Before rrweb's own observer exists: secret inputs are marked first.
    this.opts.secrets.startRecording();
    const privacy = rrwebPrivacy(this.rules);
    let stop: (() => void) | undefined;
    try {
      stop = record<RrEvent>({
        emit: (e) => this.onEvent(e),
        ...privacy,
        ignoreClass: 'rr-ignore',
        sampling: SAMPLING,
        recordCanvas: false,
        collectFonts: false,
        inlineImages: false,
        inlineStylesheet: true,
        recordCrossOriginIframes: false,
        slimDOMOptions: {
          script: true,
          comment: true,
          headFavicon: true,
          headWhitespace: true,
          headMetaSocial: true,
          headMetaRobots: true,
          headMetaHttpEquiv: true,
          headMetaVerification: true,
          headMetaAuthorship: true,
          headMetaDescKeywords: true,
        },
        recordAfter: 'DOMContentLoaded',
        // rrweb rethrows errors from its observers unless told otherwise: never into the page.
        errorHandler: (err: unknown) => {
          warnOnce(err);
          return true;
        },
      } as RecordOptions);
    } catch (e) {
      console.warn('[chatcast] the screen recorder failed to start:', e);
    }
    if (this.stopped) {
      stop?.();
      return;
    }
    if (!stop) {
      this.fail('the screen recorder could not start on this page');
      return;
    }
    this.stopFn = stop;
    // Where the visitor is (tab, focus, idle) right after the first snapshot.
    this.presence.start();
  }

  stop(): void {
    if (this.stopped) return;
    // First: anything rrweb emits while tearing down is dropped.
    this.stopped = true;
    this.batch = [];
    this.writing = null;
    this.tasks = [];
    this.waitForDom?.();
    this.waitForDom = null;
    this.presence.stop();
    try {
      this.stopFn?.();
    } catch (e) {
      console.warn('[chatcast] stopping the recorder:', e);
    }
    this.stopFn = null;
    try {
      this.opts.secrets.stopRecording();
    } catch {
      // nothing to undo
    }
    if (this.channel) {
      this.channel.port1.onmessage = null;
      this.channel.port1.close();
      this.channel.port2.close();
      this.channel = null;
    }
  }

  keyframe(): void {
    if (this.stopped || !this.stopFn) return;
    if (performance.now() - this.lastKeyframeAt < KEYFRAME_DEBOUNCE_MS) return;
    this.snapshot();
  }

  private snapshot(): void {
    try {
      record.takeFullSnapshot(true);
    } catch (e) {
      console.warn('[chatcast] full snapshot failed:', e);
      return;
    }
    // Late viewers start from this keyframe: it says where the visitor is, too.
    this.presence.reemit();
  }

  private custom(tag: string, payload: { state: string }): void {
    if (this.stopped) return;
    try {
      record.addCustomEvent(tag, payload);
    } catch {
      // not recording (yet): the next keyframe carries the state
    }
  }

  // ---- events to frames --------------------------------------------------------

  private onEvent(e: RrEvent): void {
    if (this.stopped) return;
    if (e.type === EV_META) {
      // A new snapshot begins: what came before goes out on its own, and the
      // keyframe batch starts with Meta (then the FullSnapshot). One still
      // being written is stale now, and so is what waited for it.
      if (this.writing) {
        this.writing = null;
        this.batch = [];
      }
      this.flush();
      this.batchKind = KIND_KEYFRAME;
    } else if (!this.chained && this.batchKind !== KIND_KEYFRAME && !this.writing) {
      return; // nothing before the first snapshot (or after a lost frame) can be applied
    }
    if (!this.keep(e)) return;
    this.batch.push(e);
    if (this.batchKind === KIND_KEYFRAME) this.queueMacrotask();
    else this.queueMicrotask();
  }

  /** Drops what concerns the widget or no mirrored node at all; labels blocked elements. */
  private keep(e: RrEvent): boolean {
    // A full snapshot passes the filter as it is written (FrameWriter).
    if (e.type !== EV_INCREMENTAL) return this.filter.event(e, () => {}) !== null;
    const data = e.data as { source: number; id?: number; adds?: { parentId: number; node: unknown }[]; ranges?: { start: number; end: number }[] };
    // Inputs, scrolls, clicks… on nodes that were never serialized: the widget's own UI.
    if (typeof data.id === 'number' && data.id === -1) return false;
    const host = this.opts.widgetHost;
    if (data.source === SRC_ADOPTED_STYLE_SHEET && host && data.id === record.mirror.getId(host as Node)) return false;
    if (data.source === SRC_SELECTION && data.ranges?.some((r) => r.start === -1 || r.end === -1)) return false;
    if (data.source === SRC_MUTATION && data.adds?.length) {
      const hostId = host ? record.mirror.getId(host as Node) : -1;
      if (hostId !== -1 && data.adds.some((a) => a.parentId === hostId)) {
        data.adds = data.adds.filter((a) => a.parentId !== hostId);
      }
    }
    return this.filter.event(e, (over) => this.overHidden(over)) !== null;
  }

  /** The pointer went over a hidden area (or came back): the replica hears it once, without a position. */
  private overHidden(over: boolean): void {
    if (over === this.pointerHidden) return;
    this.pointerHidden = over;
    if (!over) return;
    this.batch.push({ type: EV_CUSTOM, data: { tag: TAG_POINTER, payload: { state: 'hidden' } }, timestamp: Date.now() } as RrEvent);
    if (this.batchKind === KIND_KEYFRAME) this.queueMacrotask();
    else this.queueMicrotask();
  }

  private queueMicrotask(): void {
    if (this.microtaskQueued) return;
    this.microtaskQueued = true;
    const run = () => {
      this.microtaskQueued = false;
      if (this.batchKind === KIND_DELTA) this.flush();
    };
    if (typeof queueMicrotask === 'function') queueMicrotask(run);
    else Promise.resolve().then(run);
  }

  private queueMacrotask(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.later(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /** Runs `f` in a task of its own, soon. */
  private later(f: () => void): void {
    if (!this.channel) {
      setTimeout(f, 0);
      return;
    }
    this.tasks.push(f);
    if (this.tasks.length === 1) this.channel.port2.postMessage(null);
  }

  /** Sends the pending batch as one frame (or several, if it is too large for one). */
  private flush(): void {
    if (this.stopped || this.writing || this.batch.length === 0) return;
    const events = this.batch;
    const kind = this.batchKind;
    this.batch = [];
    this.batchKind = KIND_DELTA;
    if (kind === KIND_KEYFRAME) this.writeKeyframe(events);
    else this.sendDelta(events);
  }

  /** Writes a keyframe in slices, sends it, then whatever waited for it. */
  private writeKeyframe(events: RrEvent[]): void {
    if (!events.some((e) => e.type === EV_FULL_SNAPSHOT)) {
      // rrweb could not serialize the document: a keyframe without a snapshot is useless.
      return;
    }
    this.codec = newCodecState();
    this.filter.beginSnapshot();
    const writer = new FrameWriter(events, this.codec, this.filter);
    this.writing = writer;
    const slice = () => {
      if (this.writing !== writer || this.stopped) return;
      let done: boolean;
      try {
        done = writer.step(performance.now() + SLICE_MS);
      } catch (e) {
        console.warn('[chatcast] could not encode the page snapshot:', e);
        this.writing = null;
        this.chained = false;
        return;
      }
      if (!done) return this.later(slice);
      this.writing = null;
      const body = encoder!.encode(writer.result());
      if (HEADER_BYTES + body.length > MAX_FRAME_BYTES) {
        const mb = (body.length / 1048576).toFixed(1);
        this.fail(`this page is too large to broadcast (a snapshot of ${mb} MB; the limit is ${MAX_FRAME_BYTES / 1048576} MB)`);
        return;
      }
      this.send(KIND_KEYFRAME, body);
      this.flush();
    };
    slice();
  }

  private sendDelta(events: RrEvent[]): void {
    let items: string[];
    try {
      items = encodeItems(events, this.codec);
    } catch (e) {
      console.warn('[chatcast] could not encode screen events:', e);
      this.chained = false;
      this.snapshot();
      return;
    }
    const body = encoder!.encode('[' + items.join(',') + ']');
    if (HEADER_BYTES + body.length <= MAX_FRAME_BYTES) {
      this.send(KIND_DELTA, body);
      return;
    }
    // A large delta: split it between events.
    let part: string[] = [];
    let size = 2;
    const sendPart = () => {
      if (part.length) this.send(KIND_DELTA, encoder!.encode('[' + part.join(',') + ']'));
      part = [];
      size = 2;
    };
    for (const s of items) {
      const n = s.length * 3; // UTF-8 bound
      if (HEADER_BYTES + 2 + n > MAX_FRAME_BYTES && HEADER_BYTES + 2 + encoder!.encode(s).length > MAX_FRAME_BYTES) {
        // One event larger than a frame: skip it and start over from a snapshot.
        sendPart();
        this.chained = false;
        this.snapshot();
        return;
      }
      if (size + n + 1 > MAX_FRAME_BYTES - HEADER_BYTES) sendPart();
      part.push(s);
      size += n + 1;
    }
    sendPart();
  }

  private send(kind: number, body: Uint8Array): void {
    if (this.stopped) return;
    const out = new Uint8Array(HEADER_BYTES + body.length);
    writeHeader(out, kind, this.seq);
    out.set(body, HEADER_BYTES);
    if (this.opts.send(out)) {
      this.seq = (this.seq + 1) >>> 0;
      if (kind === KIND_KEYFRAME) {
        this.chained = true;
        this.lastKeyframeAt = performance.now();
      }
    } else {
      // Lost (the socket is down): later deltas would not apply. The server
      // starts this recording again when the socket is back, or asks for a keyframe.
      this.chained = false;
    }
  }

  private fail(detail: string): void {
    this.stop();
    try {
      this.opts.onFatal(detail);
    } catch {
      // the widget reports it
    }
  }
}

let warned = false;
function warnOnce(err: unknown): void {
  if (warned) return;
  warned = true;
  console.warn('[chatcast] screen recorder error (further ones are silent):', err);
}
