/**
 * Int32Array <-> base64, so token buffers (shuffle buffer contents, packer carry) sit in a plain
 * JSON state about 2.7x smaller than a number array. Little-endian, as Arrow and every target is.
 */
export function encodeIds(ids: Int32Array): string {
  return Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength).toString('base64');
}

export function decodeIds(s: string): Int32Array {
  const b = Buffer.from(s, 'base64');
  if (b.byteLength % 4 !== 0) throw new TypeError(`decodeIds: ${b.byteLength} bytes is not a whole number of int32 ids`);
  /** [b.byteLength / 4] copied so the result is 4-byte aligned */
  const out = new Int32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
