// Binary screen frames (docs/protocol.md, "Binary frames"):
//   byte 0      kind: 1 keyframe, 2 delta, 3 probe
//   bytes 1..5  sequence number, u32 big-endian (from 0 at each start)
//   bytes 5..   body

export const KIND_KEYFRAME = 1;
export const KIND_DELTA = 2;
export const KIND_PROBE = 3;

export const HEADER_BYTES = 5;

/** One frame: the header followed by `body`. */
export function frame(kind: number, seq: number, body: Uint8Array | number): Uint8Array {
  const len = typeof body === 'number' ? body : body.length;
  const out = new Uint8Array(HEADER_BYTES + len);
  writeHeader(out, kind, seq);
  if (typeof body !== 'number') out.set(body, HEADER_BYTES);
  return out;
}

export function writeHeader(out: Uint8Array, kind: number, seq: number): void {
  out[0] = kind;
  new DataView(out.buffer, out.byteOffset, HEADER_BYTES).setUint32(1, seq >>> 0, false);
}
