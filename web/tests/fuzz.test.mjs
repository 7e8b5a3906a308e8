// Fuzzing the console's screen frame decoder (src/shared/screencodec.ts), the
// code that reads what a visitor's page sends: a fixed budget of random and
// mutated frames from a seeded generator (reproducible). Each either decodes
// or throws an Error the replica catches (then it backs off and gives up,
// see replica.ts); none hangs, none throws something that is not an Error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = await esbuild.build({
  entryPoints: [join(here, '..', 'src', 'shared', 'screencodec.ts')],
  bundle: true,
  format: 'esm',
  write: false,
  platform: 'neutral',
  logLevel: 'silent',
});
const codec = await import('data:text/javascript;base64,' + Buffer.from(out.outputFiles[0].text).toString('base64'));

/** xorshift32: the same cases on every run. */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function randomJson(r, depth = 0) {
  const k = Math.floor(r() * (depth > 4 ? 5 : 8));
  switch (k) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return [Infinity, -1, 0, 1, 2, 1e308, NaN, -0][Math.floor(r() * 8)];
    case 3: return Math.floor(r() * 1e6) - 5e5;
    case 4: return String.fromCharCode(...Array.from({ length: Math.floor(r() * 12) }, () => Math.floor(r() * 0x2fff)));
    case 5: return Array.from({ length: Math.floor(r() * 6) }, () => randomJson(r, depth + 1));
    case 6: {
      const o = {};
      for (const key of ['type', 'data', 'c', 'id', 'tagName', 'attributes', '__proto__', 'constructor']) {
        if (r() < 0.3) o[key] = randomJson(r, depth + 1);
      }
      return o;
    }
    default: return [Math.floor(r() * 4), randomJson(r, depth + 1), randomJson(r, depth + 1)];
  }
}

/** Decodes one body; returns 'ok' or 'error', fails the test on anything else. */
function attempt(items, label) {
  const t = performance.now();
  try {
    const events = codec.decodeEvents(items, codec.newCodecState());
    assert.ok(Array.isArray(events), label);
    assert.equal(events.length, items.length, label);
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof Error, `${label}: threw a non-Error ${String(e)}`);
    assert.ok(e.message.length > 0, `${label}: an error without a message`);
    return 'error';
  } finally {
    const ms = performance.now() - t;
    assert.ok(ms < 500, `${label}: took ${ms.toFixed(0)} ms`);
  }
}

const el = (id, tagName, attributes, childNodes) => ({ type: 2, tagName, attributes, childNodes, id });
const valid = () => {
  const snap = {
    type: 2,
    timestamp: 1,
    data: {
      initialOffset: { top: 0, left: 0 },
      node: { type: 0, id: 1, childNodes: [el(2, 'html', {}, [el(3, 'body', {}, [el(4, 'p', { class: 'x' }, [{ type: 3, textContent: 'hi', id: 5 }])])])] },
    },
  };
  const move = { type: 3, timestamp: 2, data: { source: 1, positions: [{ x: 3, y: 4, id: 4, timeOffset: 0 }] } };
  return codec.encodeFrame([{ type: 4, data: { href: 'https://a.example/', width: 800, height: 600 }, timestamp: 1 }, snap, move], codec.newCodecState());
};

test('random bodies decode or fail with an Error, quickly', () => {
  const r = rng(0xc0ffee);
  const seen = { ok: 0, error: 0 };
  for (let i = 0; i < 5000; i++) {
    const items = r() < 0.1 ? randomJson(r) : Array.from({ length: Math.floor(r() * 5) }, () => randomJson(r));
    seen[attempt(items, `case ${i}`)]++;
  }
  // Both outcomes happen: the generator reaches the decoder's paths, not only its first check.
  assert.ok(seen.ok > 100 && seen.error > 100, JSON.stringify(seen));
});

test('mutated valid frames decode or fail with an Error', () => {
  const wire = valid();
  assert.equal(attempt(JSON.parse(wire), 'the valid frame'), 'ok', 'positive control');
  const r = rng(42);
  let parsed = 0;
  for (let i = 0; i < 5000; i++) {
    const chars = [...wire];
    const edits = 1 + Math.floor(r() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(r() * chars.length);
      const op = r();
      if (op < 0.4) chars[at] = String.fromCharCode(32 + Math.floor(r() * 95));
      else if (op < 0.7) chars.splice(at, 1);
      else chars.splice(at, 0, '[]{}",:0-9e'[Math.floor(r() * 11)]);
    }
    let items;
    try {
      items = JSON.parse(chars.join(''));
    } catch {
      continue; // not JSON: the replica's JSON.parse fails first, inside the same catch
    }
    parsed++;
    attempt(items, `mutation ${i}: ${chars.join('').slice(0, 80)}`);
  }
  assert.ok(parsed > 500, `${parsed} mutations still parsed as JSON`);
});

test('hostile shapes: deep nesting, huge counts, numbers that are not', () => {
  let deep = ['p'];
  for (let i = 0; i < 100_000; i++) deep = ['div', {}, deep];
  assert.equal(attempt([[2, deep]], 'nested 100,000 deep'), 'error');
  assert.equal(attempt([[1, 1e308, 1e308], [1, 1e308, 1e308]], 'huge offsets'), 'ok');
  assert.equal(attempt([[1, 'x', 0]], 'a move with a string'), 'error');
  assert.equal(attempt([[1, null, 0]], 'a move with null'), 'error');
  assert.equal(attempt([{ type: 'x' }], 'an event with a string type'), 'error');
  assert.equal(attempt([[2, { id: NaN, c: [] }]], 'a node id that is not a number'), 'error');
  assert.equal(attempt([[2, { id: 1, c: Array(100_000).fill('t') }]], 'a node with 100,000 text children'), 'ok');
});
