// The connection probe (docs/protocol.md, step 3): the server sends
// `probe {id, upload_bytes}`; the tab echoes `probe {id}` at once (round
// trip), then sends `upload_bytes` of incompressible bytes in one binary
// frame of kind 3 (upload speed). The WebSocket's permessage-deflate cannot
// shrink random bytes, so the figure is the real upload.

import { KIND_PROBE, HEADER_BYTES, frame } from './frame';

/** crypto.getRandomValues fills at most 64 KiB per call. */
const CHUNK = 65_536;
/** Never build more than this, whatever the server asks. */
const MAX_PROBE_BYTES = 8 * 1024 * 1024;

/** The probe's binary frame: header (kind 3, seq 0) and `uploadBytes` random bytes. */
export function probeFrame(uploadBytes: number): Uint8Array {
  const n = Math.max(0, Math.min(MAX_PROBE_BYTES, Math.floor(uploadBytes) || 0));
  const out = frame(KIND_PROBE, 0, n);
  for (let off = HEADER_BYTES; off < out.length; off += CHUNK) {
    crypto.getRandomValues(out.subarray(off, Math.min(out.length, off + CHUNK)));
  }
  return out;
}

/**
 * Answers a probe: the bytes are made first, so that neither the echo nor the
 * upload waits for the random generator; then the echo, then the upload, back
 * to back.
 */
export function answerProbe(
  id: string,
  uploadBytes: number,
  sendEcho: (id: string) => boolean,
  sendBinary: (data: Uint8Array) => boolean,
): boolean {
  const data = probeFrame(uploadBytes);
  if (!sendEcho(id)) return false;
  return sendBinary(data);
}
