// Fuzzing the console's screen frame decoder: what a visitor's page sends
// reaches the console as binary frames (5-byte header: kind, big-endian
// sequence number; then a UTF-8 JSON body, src/shared/screencodec.ts), read by
// the replica (src/console/screencast/replica.ts `onFrame`: header,
// TextDecoder, JSON.parse, decodeEvents). The header read is private to the
// replica, so `readFrame` below does the same steps; the decoder is the real one.
//
// Budget: a fixed seed (reproducible) and ~12,000 inputs — random bytes,
// random JSON bodies, valid frames with bits flipped, cut, extended with
// garbage, numbers set to huge values, strings made huge, and hostile shapes
// — in ~2 s. Each either decodes, is ignored (too short for a header, unknown
// kind), or throws an Error with a message (which the replica catches); none
// takes more than 100 ms + 1 ms per kB of input, none returns more than its input justifies (the
// decoded events' size is bounded by the body's), none throws a non-Error,
// none touches Object.prototype. The campaign runs in a worker that is
// terminated if it overruns its deadline, naming the case it was on: a hang
// fails the test instead of stalling it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const bundle = (format) =>
  esbuild.build({
    entryPoints: [join(here, '..', 'src', 'shared', 'screencodec.ts')],
    bundle: true,
    format,
    write: false,
    platform: 'neutral',
    logLevel: 'silent',
  });
const codecCjs = (await bundle('cjs')).outputFiles[0].text;
const codec = await import('data:text/javascript;base64,' + Buffer.from((await bundle('esm')).outputFiles[0].text).toString('base64'));

const SEED = 0xc0ffee;
const DEADLINE_MS = 60_000;

/**
 * The campaign, run in a worker (it gets everything through `workerData`, so
 * it must not use anything from this module's scope).
 */
function campaign() {
  const { parentPort, workerData } = require('node:worker_threads');
  const { isDeepStrictEqual } = require('node:util');
  const { codecSrc, seed, progress } = workerData;
  const mod = { exports: {} };
  new Function('module', 'exports', codecSrc)(mod, mod.exports);
  const codec = mod.exports;
  const at = new Int32Array(progress);

  const HEADER_LEN = 5;
  const KIND_KEYFRAME = 1;
  const KIND_DELTA = 2;
  const enc = new TextEncoder();
  const protoKeys = () => Object.getOwnPropertyNames(Object.prototype).join();
  const cleanProto = protoKeys();

  /** xorshift32: the same cases on every run. */
  let x = seed >>> 0 || 1;
  const r = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(r() * n);
  const pick = (a) => a[int(a.length)];

  /** What the replica does with one binary frame (onFrame), the decoder being the real one. */
  const decoder = new TextDecoder();
  function readFrame(buf, state) {
    if (buf.byteLength < HEADER_LEN) return { outcome: 'ignored' };
    const view = new DataView(buf);
    const kind = view.getUint8(0);
    const seq = view.getUint32(1, false);
    if (kind !== KIND_KEYFRAME && kind !== KIND_DELTA) return { outcome: 'ignored' };
    const items = JSON.parse(decoder.decode(new Uint8Array(buf, HEADER_LEN)));
    const s = kind === KIND_KEYFRAME ? codec.newCodecState() : state;
    const events = codec.decodeEvents(items, s);
    return { outcome: 'ok', events, seq, kind };
  }

  function frame(kind, seq, body) {
    const b = typeof body === 'string' ? enc.encode(body) : body;
    const out = new Uint8Array(HEADER_LEN + b.length);
    out[0] = kind;
    new DataView(out.buffer).setUint32(1, seq >>> 0, false);
    out.set(b, HEADER_LEN);
    return out.buffer;
  }

  const stats = { ok: 0, error: 0, ignored: 0, cases: 0, slowest: 0 };
  const failures = [];
  /** Reads one frame; records anything that breaks the contract. */
  function attempt(buf, label, state = codec.newCodecState()) {
    Atomics.store(at, 0, stats.cases++);
    const t = performance.now();
    let outcome;
    try {
      const got = readFrame(buf, state);
      outcome = got.outcome;
      if (outcome === 'ok') {
        if (!Array.isArray(got.events)) failures.push(`${label}: decoded to a non-array`);
        // What it returns is bounded by what came in (no size taken from a field).
        let size = 0;
        try {
          size = JSON.stringify(got.events).length;
        } catch {
          // Too deep to serialize here: its size was bounded by the parse that built it.
        }
        const limit = 32 * buf.byteLength + 4096;
        if (size > limit) failures.push(`${label}: ${buf.byteLength} bytes decoded to ${size}`);
      }
    } catch (e) {
      outcome = 'error';
      if (!(e instanceof Error)) failures.push(`${label}: threw a non-Error ${String(e)}`);
      else if (!e.message) failures.push(`${label}: an ${e.name} without a message`);
    }
    const ms = performance.now() - t;
    stats.slowest = Math.max(stats.slowest, ms);
    // Linear at worst: 100 ms, plus 1 ms per kB (V8's own JSON.parse of 2 MB nested a million deep takes ~0.4 s).
    if (ms > 100 + buf.byteLength / 1000) failures.push(`${label}: took ${ms.toFixed(0)} ms for ${buf.byteLength} bytes`);
    if (protoKeys() !== cleanProto || {}.polluted !== undefined) failures.push(`${label}: Object.prototype changed`);
    stats[outcome]++;
    return outcome;
  }

  // ---- valid frames, the mutations' starting points (and positive controls)
  const el = (id, tagName, attributes, childNodes, extra = {}) => ({ type: 2, tagName, attributes, childNodes, id, ...extra });
  const text = (id, textContent) => ({ type: 3, textContent, id });
  const snapshot = (n) => ({
    type: 2,
    timestamp: 1,
    data: {
      initialOffset: { top: 10, left: 0 },
      node: {
        type: 0,
        id: 1,
        childNodes: [
          el(2, 'html', { lang: 'en' }, [
            el(3, 'body', { class: 'x' }, [
              ...Array.from({ length: n }, (_, i) => el(4 + 2 * i, 'p', { 'data-i': String(i) }, [text(5 + 2 * i, `line ${i} "quoted" <b>`)])),
              el(4 + 2 * n, 'svg', { viewBox: '0 0 1 1' }, [], { isSVG: true }),
              { type: 3, textContent: 'a{}', isStyle: true, id: 100 + 2 * n },
            ]),
          ]),
        ],
      },
    },
  });
  const meta = { type: 4, data: { href: 'https://a.example/', width: 800, height: 600 }, timestamp: 1 };
  const move = (px, py, id) => ({ type: 3, timestamp: 2, data: { source: 1, positions: [{ x: px, y: py, id, timeOffset: 0 }] } });
  const scroll = { type: 3, timestamp: 3, data: { source: 3, id: 4, x: 0, y: 120 } };
  const sets = [[meta, snapshot(1), move(3, 4, 4)], [meta, snapshot(20)], [move(1, 2, 5), move(7, 2, 5), scroll], [scroll]];
  const valid = sets.map((events) => codec.encodeFrame(events, codec.newCodecState()));
  const noTime = (events) => JSON.parse(JSON.stringify(events.map(({ timestamp, ...e }) => e)));
  for (const [i, events] of sets.entries()) {
    const kind = i < 2 ? KIND_KEYFRAME : KIND_DELTA;
    const got = readFrame(frame(kind, i, valid[i]), codec.newCodecState());
    const want = noTime(events);
    if (!isDeepStrictEqual(noTime(got.events), want)) failures.push(`valid frame ${i} does not round-trip`);
  }

  // ---- random bytes: headers of every kind, bodies of anything
  for (let i = 0; i < 2000; i++) {
    const n = int(i < 1000 ? 12 : 300);
    const b = new Uint8Array(n);
    for (let j = 0; j < n; j++) b[j] = int(256);
    if (n > 0 && r() < 0.7) b[0] = pick([KIND_KEYFRAME, KIND_DELTA]);
    attempt(b.buffer, `random bytes ${i}`);
  }

  // ---- random JSON bodies
  function randomJson(depth = 0) {
    switch (int(depth > 4 ? 5 : 8)) {
      case 0: return null;
      case 1: return r() < 0.5;
      case 2: return pick([Infinity, -1, 0, 1, 2, 3, 1e308, -1e308, 2 ** 32, 2 ** 53 + 1, -0, 4294967295]);
      case 3: return int(1e6) - 5e5;
      case 4: return String.fromCharCode(...Array.from({ length: int(12) }, () => int(0xd900)));
      case 5: return Array.from({ length: int(6) }, () => randomJson(depth + 1));
      case 6: {
        const o = {};
        for (const k of ['type', 'data', 'c', 'id', 'tagName', 'attributes', 'childNodes', 'length', '__proto__', 'constructor', 'timestamp']) {
          if (r() < 0.3) o[k] = randomJson(depth + 1);
        }
        return o;
      }
      default: return [int(4), randomJson(depth + 1), randomJson(depth + 1), randomJson(depth + 1)];
    }
  }
  for (let i = 0; i < 4000; i++) {
    const body = r() < 0.1 ? randomJson() : Array.from({ length: int(5) }, () => randomJson());
    // JSON.stringify: what a page could send (and `__proto__` as an own key, as JSON.parse makes it).
    const json = JSON.stringify(body).replace(/"constructor"/g, '"__proto__"');
    attempt(frame(pick([KIND_KEYFRAME, KIND_DELTA]), i, json), `random body ${i}: ${json.slice(0, 80)}`);
  }

  // ---- valid frames mutated
  const huge = ['4294967295', '4294967296', '18446744073709551615', '9007199254740993', '1e308', '-1e308', '1e999', '-1', '-0', '0.5'];
  for (let i = 0; i < 5000; i++) {
    const base = int(valid.length);
    let body = valid[base];
    const op = int(7);
    let bytes;
    if (op === 0) {
      // Numbers (ids, offsets, lengths) set to huge values.
      body = body.replace(/-?\d+/g, (m) => (r() < 0.3 ? pick(huge) : m));
    } else if (op === 1) {
      // A string made huge (a text node, a tag name, an attribute).
      const n = pick([1000, 100_000, 1_000_000]);
      body = body.replace(/"([^"\\]*)"/, (m) => (r() < 0.5 ? `"${'x'.repeat(n)}"` : m));
    } else if (op === 2) {
      // Text edits: characters replaced, removed, inserted.
      const chars = [...body];
      for (let e = 1 + int(4); e > 0; e--) {
        const p = int(chars.length);
        const what = r();
        if (what < 0.4) chars[p] = String.fromCharCode(32 + int(95));
        else if (what < 0.7) chars.splice(p, 1);
        else chars.splice(p, 0, pick(['[', ']', '{', '}', '"', ',', ':', '0', '9', 'e', '-', '\\u0000', '\\ud800']));
      }
      body = chars.join('');
    }
    bytes = enc.encode(body);
    if (op === 3) {
      // Bits flipped, anywhere (header included once the header is prepended).
      bytes = bytes.slice();
      for (let e = 1 + int(8); e > 0; e--) bytes[int(bytes.length)] ^= 1 << int(8);
    }
    let buf = frame(base < 2 ? KIND_KEYFRAME : KIND_DELTA, i, bytes);
    if (op === 4) buf = buf.slice(0, int(buf.byteLength)); // cut anywhere, header too
    if (op === 5) {
      // Garbage after a valid frame: bytes, or more JSON.
      const tail = r() < 0.5 ? Uint8Array.from({ length: 1 + int(64) }, () => int(256)) : enc.encode(pick([',[1,2,3]', ']]', '[]', ' ', '\u0000', '\ufeff']));
      const out = new Uint8Array(buf.byteLength + tail.length);
      out.set(new Uint8Array(buf));
      out.set(tail, buf.byteLength);
      buf = out.buffer;
    }
    if (op === 6) {
      // A header claiming anything.
      const v = new DataView(buf);
      v.setUint8(0, pick([0, KIND_KEYFRAME, KIND_DELTA, 3, 255]));
      v.setUint32(1, pick([0, 1, 0x7fffffff, 0xffffffff]), false);
    }
    attempt(buf, `mutation ${i} (op ${op}) of valid frame ${base}`);
  }

  // ---- hostile shapes
  // Built as text: JSON.stringify itself cannot nest this deep.
  const deep = '[[2,' + '["div",0,'.repeat(100_000) + '["p"]' + ']'.repeat(100_000) + ']]';
  const deepObj = '[[2,' + '{"type":2,"tagName":"div","attributes":{},"id":1,"c":['.repeat(20_000) + '"t"' + ']}'.repeat(20_000) + ']]';
  const shapes = [
    ['a node nested 100,000 deep', deep, 'error'],
    ['an object node nested 20,000 deep', deepObj, 'error'],
    ['JSON nested 1,000,000 deep', '['.repeat(1_000_000) + ']'.repeat(1_000_000), null],
    ['a move with huge offsets', '[[1,1e308,1e308],[1,1e308,1e308]]', 'ok'],
    ['a move with a string', '[[1,"x",0]]', 'error'],
    ['a move with null', '[[1,null,0]]', 'error'],
    ['a move past JSON numbers', '[[1,1e999,0]]', 'error'],
    ['an event with a string type', '[{"type":"x"}]', 'error'],
    ['a node id that is not a number', '[[2,{"id":"1","c":[]}]]', 'error'],
    ['an unknown compact item', '[[9]]', 'error'],
    ['a snapshot of nothing', '[[2]]', 'error'],
    ['a length field', '{"length":4294967295}', 'error'],
    ['an array-like body', '{"0":[1,0,0],"length":4294967295}', 'error'],
    ['a node with 100,000 text children', JSON.stringify([[2, { id: 1, c: Array(100_000).fill('t') }]]), 'ok'],
    ['an element with 100,000 attributes', JSON.stringify([[2, ['p', Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`a${i}`, 'v']))]]]), 'ok'],
    ['a prototype key', '[{"type":5,"__proto__":{"polluted":1},"data":{}}]', 'ok'],
    ['a prototype key on a node', '[[2,{"id":1,"__proto__":{"polluted":1},"c":["t"]}]]', 'ok'],
    ['lone surrogates', '[[2,["\\ud800",0,"\\udfff"]]]', 'ok'],
    ['invalid UTF-8', new Uint8Array([0x5b, 0x5b, 0x32, 0x2c, 0x22, 0xff, 0xfe, 0x22, 0x5d, 0x5d]), 'ok'],
    ['a BOM (TextDecoder drops it)', '\ufeff[]', 'ok'],
    ['empty', '', 'error'],
  ];
  for (const [label, body, want] of shapes) {
    const got = attempt(frame(KIND_KEYFRAME, 1, body), label);
    if (want && got !== want) failures.push(`${label}: ${got}, expected ${want}`);
  }

  // ---- a delta stream with a state carried across frames (as the replica does)
  let state = codec.newCodecState();
  for (let i = 0; i < 500; i++) {
    const items = Array.from({ length: 1 + int(4) }, () => pick([[1, int(200) - 100, int(200) - 100], [1, 1, 1, int(50)], [1, pick(huge.map(Number)), 0]]));
    if (attempt(frame(KIND_DELTA, i, JSON.stringify(items)), `delta ${i}`, state) === 'error') state = codec.newCodecState();
  }

  parentPort.postMessage({ stats, failures: failures.slice(0, 20), failureCount: failures.length });
}

test('random and mutated screen frames decode, are ignored, or throw an Error; quickly and within bounds', async () => {
  const progress = new SharedArrayBuffer(4);
  const worker = new Worker(`(${campaign.toString()})()`, { eval: true, workerData: { codecSrc: codecCjs, seed: SEED, progress } });
  const result = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const at = Atomics.load(new Int32Array(progress), 0);
      worker.terminate();
      reject(new Error(`the campaign did not finish within ${DEADLINE_MS} ms: stuck at case ${at} (seed ${SEED})`));
    }, DEADLINE_MS);
    worker.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  await worker.terminate();
  const { stats, failures, failureCount } = result;
  assert.deepEqual(failures, [], `${failureCount} failures (seed ${SEED}); stats ${JSON.stringify(stats)}`);
  // Every path is reached: decoding, refusing and ignoring, not only the first check.
  assert.ok(stats.cases > 11_000, JSON.stringify(stats));
  assert.ok(stats.ok > 1000 && stats.error > 1000 && stats.ignored > 500, JSON.stringify(stats));
});

test('the decoder itself: bodies given as values, not only as JSON', () => {
  // decodeEvents is exported: what it accepts besides parsed JSON must not break it either.
  const ok = (items) => codec.decodeEvents(items, codec.newCodecState());
  const bad = (items, what) =>
    assert.throws(() => ok(items), (e) => e instanceof codec.CodecError && e.message.length > 0, what);
  bad(undefined, 'undefined');
  bad('[]', 'a string');
  bad({ length: 2 ** 32 - 1 }, 'an array-like claiming 4 GiB');
  bad([[1, NaN, 0]], 'NaN');
  bad([[1, 1n, 0]], 'a BigInt');
  bad([[2, Symbol('x')]], 'a symbol');
  bad([[2, () => 1]], 'a function');
  assert.equal(ok(new Array(3).fill([1, 0, 0])).length, 3);
  // A proxy whose `length` lies is not an array.
  bad(new Proxy({}, { get: (_, k) => (k === 'length' ? 2 ** 32 - 1 : undefined) }), 'a proxy');
});
