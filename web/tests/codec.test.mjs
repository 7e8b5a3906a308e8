// The screen frame codec (src/shared/screencodec.ts), on its own: whatever the
// agent encodes, the console decodes to the same rrweb events (timestamps
// aside, which the console sets itself).
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

/** Encode, stringify, parse, decode: what crosses the wire. */
function roundTrip(events, enc = codec.newCodecState(), dec = codec.newCodecState()) {
  const wire = codec.encodeFrame(events, enc);
  return { wire, items: JSON.parse(wire), events: codec.decodeEvents(JSON.parse(wire), dec) };
}

/** Events as JSON carries them (undefined keys dropped), without timestamps. */
const noTime = (events) => JSON.parse(JSON.stringify(events.map(({ timestamp, ...e }) => e)));

const el = (id, tagName, attributes, childNodes, extra = {}) => ({ type: 2, tagName, attributes, childNodes, id, ...extra });
const text = (id, textContent, extra = {}) => ({ type: 3, textContent, id, ...extra });

const snapshot = {
  type: 2,
  timestamp: 1795000000000,
  data: {
    initialOffset: { top: 120, left: 0 },
    node: {
      type: 0,
      id: 41, // a re-snapshot: rrweb's ids go on from the last one
      childNodes: [
        { type: 1, name: 'html', publicId: '', systemId: '', id: 42 },
        el(43, 'html', { lang: 'en' }, [
          el(44, 'head', {}, [el(45, 'style', { _cssText: 'a { color: red; }' }, []), el(46, 'style', {}, [text(47, 'b{}', { isStyle: true })])]),
          el(48, 'body', { class: 'x' }, [
            text(49, '\n  '),
            el(50, 'p', {}, [text(51, 'Hello, "world" <b>')]),
            el(52, 'svg', { viewBox: '0 0 1 1' }, [el(53, 'path', { d: 'M0 0' }, [], { isSVG: true })], { isSVG: true }),
            // A gap in the ids (a node rrweb left out) and a blocked element.
            el(60, 'div', { class: 'rr-block', rr_width: '10px', rr_height: '5px' }, [], { needBlock: true }),
            el(61, 'my-widget', {}, [el(62, 'span', {}, [text(63, 'in shadow')], { isShadow: true })], { isShadowHost: true }),
            text(64, ''),
            // rrweb leaves unset flags as undefined keys (JSON drops them).
            el(65, 'i', {}, [], { isSVG: undefined, rootId: undefined, isCustom: undefined }),
          ]),
        ]),
      ],
    },
  },
};

test('a full snapshot comes back node for node, ids included', () => {
  const meta = { type: 4, data: { href: 'https://shop.example/', width: 1280, height: 720 }, timestamp: 1795000000000 };
  const { wire, events } = roundTrip([meta, snapshot]);
  assert.deepEqual(noTime(events), noTime([meta, snapshot]));
  assert.ok(events.every((e) => e.timestamp === 0), 'the console stamps events itself');
  // Implied ids are not written: only the gap, the root and the odd nodes carry one.
  assert.ok(!wire.includes('"timestamp"'), wire);
  for (const id of [43, 44, 48, 50, 51, 52, 53, 65]) assert.ok(!wire.includes(`"id":${id}`), `id ${id} is implied: ${wire}`);
  assert.ok(wire.includes('"id":60'), 'an id after a gap is written');
});

test('pointer moves travel as offsets and come back as positions', () => {
  const move = (x, y, id) => ({ type: 3, timestamp: 1, data: { source: 1, positions: [{ x, y, id, timeOffset: -12 }] } });
  const moves = [move(100, 200, 7), move(103, 198, 7), move(90.5, 10, 9), move(90.5, 10, 9)];
  const enc = codec.newCodecState();
  const dec = codec.newCodecState();
  const { items, events } = roundTrip(moves, enc, dec);
  assert.deepEqual(items, [[1, 100, 200, 7], [1, 3, -2], [1, -12.5, -188, 9], [1, 0, 0]]);
  assert.deepEqual(
    events.map((e) => e.data.positions[0]),
    [{ x: 100, y: 200, id: 7, timeOffset: 0 }, { x: 103, y: 198, id: 7, timeOffset: 0 }, { x: 90.5, y: 10, id: 9, timeOffset: 0 }, { x: 90.5, y: 10, id: 9, timeOffset: 0 }],
  );
  // The next frame goes on from where this one ended; a keyframe starts afresh on both ends.
  assert.deepEqual(roundTrip([move(91.5, 10, 9)], enc, dec).items, [[1, 1, 0]]);
  assert.deepEqual(roundTrip([move(91.5, 10, 9)]).items, [[1, 91.5, 10, 9]]);
  // Several positions in one event (or another source) travel as they are.
  const two = { type: 3, timestamp: 1, data: { source: 1, positions: [{ x: 1, y: 1, id: 1, timeOffset: 0 }, { x: 2, y: 2, id: 1, timeOffset: 0 }] } };
  const touch = { type: 3, timestamp: 1, data: { source: 6, positions: [{ x: 5, y: 5, id: 1, timeOffset: 0 }] } };
  assert.deepEqual(noTime(roundTrip([two, touch]).events), noTime([two, touch]));
});

test('every other event passes through unchanged', () => {
  const others = [
    { type: 3, timestamp: 5, data: { source: 0, texts: [], attributes: [{ id: 3, attributes: { class: 'c up' } }], removes: [], adds: [{ parentId: 2, nextId: null, node: text(99, 'x') }] } },
    { type: 3, timestamp: 6, data: { source: 5, text: 'He', isChecked: false, id: 12 } },
    { type: 5, timestamp: 7, data: { tag: 'chatcast/presence', payload: { state: 'idle' } } },
  ];
  assert.deepEqual(noTime(roundTrip(others).events), noTime(others));
});

test('a body that is not ours is refused with a reason', () => {
  const s = codec.newCodecState();
  assert.throws(() => codec.decodeEvents({}, s), codec.CodecError);
  assert.throws(() => codec.decodeEvents([[9, 1]], s), /unknown compact item/);
  assert.throws(() => codec.decodeEvents([[1, 'a', 2]], s), /expected a number/);
  assert.throws(() => codec.decodeEvents([[2, [5, 0]]], s), /tag name/);
  assert.throws(() => codec.decodeEvents(['x'], s), /neither an event nor a compact array/);
});

test('a large snapshot written in slices is the same text as in one go', () => {
  // ~6,000 nodes: nested lists with text, attributes and a blocked element.
  let id = 2;
  const list = (depth) => el(id++, 'ul', { class: `d${depth}` }, Array.from({ length: 6 }, (_, i) => {
    const li = el(id++, 'li', i === 3 ? { rr_width: '10px', rr_height: '4px' } : {}, []);
    li.childNodes.push(text(id++, `item ${i} at ${depth}`));
    if (depth < 4) li.childNodes.push(list(depth + 1));
    return li;
  }));
  const root = { type: 0, id: 1, childNodes: [el(id++, 'html', {}, [el(id++, 'body', {}, [list(0)])])] };
  const events = [{ type: 2, timestamp: 1, data: { node: root, initialOffset: { top: 0, left: 0 } } }];
  // A filter like the agent's: blocked elements labelled, one zone (the class d3 lists) masked.
  const zoneIds = new Set();
  const walk = (n) => { if (n.attributes?.class === 'd3') zoneIds.add(n.id); n.childNodes?.forEach(walk); };
  walk(root);
  const label = {
    zoneRoot: (id) => zoneIds.has(id),
    attrs: (a, _tag, zone) => ('rr_width' in a ? { ...a, class: 'rr-block' } : zone ? { ...a, zone: '1' } : a),
    text: (t, zone) => (zone ? t.replace(/\S/g, '•') : t),
  };
  const whole = codec.encodeFrame(events, codec.newCodecState(), label);
  const w = new codec.FrameWriter(events, codec.newCodecState(), label);
  let steps = 1;
  while (!w.step(0)) steps++;
  assert.ok(steps > 5, `written in ${steps} slices`);
  assert.equal(w.result(), whole);
  const back = codec.decodeEvents(JSON.parse(whole), codec.newCodecState());
  const blocked = JSON.stringify(back).match(/"rr_width":"10px"/g).length;
  assert.equal(JSON.stringify(back).match(/"class":"rr-block"/g).length, blocked, 'every blocked element labelled');
  assert.ok(!JSON.stringify(events).includes('rr-block'), 'the input is left as it was');
  // Zones are inherited down the tree, and only there.
  const texts = [];
  const collect = (n, inZone) => {
    const z = inZone || n.attributes?.class === 'd3';
    if (n.type === 3) texts.push([n.textContent, z]);
    n.childNodes?.forEach((c) => collect(c, z));
  };
  collect(back[0].data.node, false);
  assert.ok(texts.some(([, z]) => z) && texts.some(([, z]) => !z));
  for (const [t, z] of texts) assert.equal(/^[• ]+$/.test(t), z, `"${t}" masked only inside the zone`);
});
