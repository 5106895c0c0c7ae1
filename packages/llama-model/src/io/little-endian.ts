/**
 * Little-endian byte <-> typed-array conversion. safetensors and .npy ('<f4') are little-endian on
 * disk whatever the host is: on a little-endian host (every platform Node ships for today) a typed
 * view of an aligned buffer is already correct; otherwise, or when the bytes are unaligned, we go
 * element by element through DataView with `littleEndian = true`.
 */

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type Ctor<T> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): T; new (length: number): T; BYTES_PER_ELEMENT: number };

function view<T>(bytes: Uint8Array, ctor: Ctor<T>, get: (dv: DataView, off: number) => number | bigint): T {
  const size = ctor.BYTES_PER_ELEMENT;
  const n = bytes.byteLength / size;
  if (!Number.isInteger(n)) throw new RangeError(`little-endian view: ${bytes.byteLength} bytes is not a multiple of ${size}`);
  if (HOST_LITTLE_ENDIAN && bytes.byteOffset % size === 0 && bytes.buffer instanceof ArrayBuffer) {
    return new ctor(bytes.buffer, bytes.byteOffset, n);
  }
  const out = new ctor(n) as unknown as { [i: number]: number | bigint };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = get(dv, i * size);
  return out as unknown as T;
}

/** Read `bytes` as little-endian values (a view when possible, a copy otherwise). */
export const leF64 = (b: Uint8Array): Float64Array => view(b, Float64Array, (dv, o) => dv.getFloat64(o, true));
export const leF32 = (b: Uint8Array): Float32Array => view(b, Float32Array, (dv, o) => dv.getFloat32(o, true));
export const leU16 = (b: Uint8Array): Uint16Array => view(b, Uint16Array, (dv, o) => dv.getUint16(o, true));
export const leI16 = (b: Uint8Array): Int16Array => view(b, Int16Array, (dv, o) => dv.getInt16(o, true));
export const leI32 = (b: Uint8Array): Int32Array => view(b, Int32Array, (dv, o) => dv.getInt32(o, true));
export const leI64 = (b: Uint8Array): BigInt64Array => view(b, BigInt64Array, (dv, o) => dv.getBigInt64(o, true));

export type NumericArray = Float64Array | Float32Array | Uint16Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

/** Little-endian bytes of a typed array (a view on little-endian hosts, a swapped copy otherwise). */
export function toLeBytes(a: NumericArray): Uint8Array {
  const size = a.BYTES_PER_ELEMENT;
  if (HOST_LITTLE_ENDIAN || size === 1) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) {
    const o = i * size;
    if (a instanceof Float64Array) dv.setFloat64(o, a[i]!, true);
    else if (a instanceof Float32Array) dv.setFloat32(o, a[i]!, true);
    else if (a instanceof Uint16Array) dv.setUint16(o, a[i]!, true);
    else if (a instanceof Int16Array) dv.setInt16(o, a[i]!, true);
    else if (a instanceof Int32Array) dv.setInt32(o, a[i]!, true);
    else if (a instanceof BigInt64Array) dv.setBigInt64(o, a[i]!, true);
  }
  return out;
}
