import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '@llama-moe/tensor-core';
import { SafetensorsFile } from './safetensors-reader.js';
import { serializeSafetensors, writeSafetensors, type SafetensorsTensorInput } from './safetensors-writer.js';
import { SAFETENSORS_DTYPES, type SafetensorsDType } from './safetensors-format.js';
import { SafetensorsError } from './errors.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'st-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
const nextFile = (): string => path.join(tmp, `t${fileNo++}.safetensors`);

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

const dimArb = fc.oneof(fc.constant(1), fc.constant(0), fc.integer({ min: 1, max: 7 }));
const shapeArb = fc.array(dimArb, { minLength: 0, maxLength: 3 });
const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Values each dtype can hold exactly, as the writer's Float32Array / Int32Array input. */
function valuesFor(dtype: SafetensorsDType, n: number): fc.Arbitrary<Float32Array | Int32Array> {
  const ints = (lo: number, hi: number) => fc.array(fc.integer({ min: lo, max: hi }), { minLength: n, maxLength: n }).map((a) => Int32Array.from(a));
  switch (dtype) {
    case 'F32':
    case 'F64':
      return fc.array(fc.float(), { minLength: n, maxLength: n }).map((a) => Float32Array.from(a));
    case 'F16':
      return fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: n, maxLength: n }).map((a) => Float32Array.from(a, f16BitsToF32));
    case 'BF16':
      return fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: n, maxLength: n }).map((a) => Float32Array.from(a, bf16BitsToF32));
    case 'I64':
    case 'I32':
      return ints(-2147483648, 2147483647);
    case 'I16':
      return ints(-32768, 32767);
    case 'I8':
      return ints(-128, 127);
    case 'U8':
      return ints(0, 255);
    case 'BOOL':
      return ints(0, 1);
  }
}

const tensorArb = (name: string) =>
  fc
    .record({ dtype: fc.constantFrom(...SAFETENSORS_DTYPES), shape: shapeArb })
    .chain(({ dtype, shape }) => valuesFor(dtype, size(shape)).map((data) => ({ name, dtype, shape, data }) as SafetensorsTensorInput & { data: Float32Array | Int32Array }));

const filesArb = fc
  .uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_.]{0,12}$/), { minLength: 0, maxLength: 5 })
  .chain((names) => fc.tuple(...names.map(tensorArb)));

function sameF32(actual: Float32Array, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const e = Math.fround(expected[i]!);
    if (!Object.is(actual[i], e)) expect.fail(`element ${i}: ${actual[i]} !== ${e}`);
  }
}

describe('safetensors round trip', () => {
  it('every dtype, shapes incl. 0-d and empty, several tensors per file (array and streamed iterable)', () => {
    fc.assert(
      fc.property(filesArb, fc.boolean(), (tensors, streamed) => {
        const file = nextFile();
        const meta = { format: 'pt', note: 'ünïcode ✓' };
        writeSafetensors(file, streamed ? (function* () { yield* tensors; })() : tensors, meta);
        const st = SafetensorsFile.open(file);
        try {
          expect(st.keys()).toEqual(tensors.map((t) => t.name));
          expect(st.metadata).toEqual(meta);
          for (const t of tensors) {
            const info = st.info(t.name);
            expect(info.dtype).toBe(t.dtype);
            expect(info.shape).toEqual(t.shape);
            sameF32(st.readF32(t.name), t.data);
            const tt = st.readTensor(t.name);
            expect(tt.shape).toEqual(t.shape);
            expect(tt.name).toBe(t.name);
            if (t.data instanceof Int32Array) {
              expect(Array.from(st.readI32(t.name))).toEqual(Array.from(t.data));
              expect(tt.dtype).toBe('int32');
            } else {
              expect(tt.dtype).toBe('float32');
            }
          }
        } finally {
          st.close();
        }
        // In-memory serialization gives the same bytes as the file.
        expect(Buffer.from(serializeSafetensors(tensors, meta)).equals(fs.readFileSync(file))).toBe(true);
        expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
      }),
      { numRuns: 120 },
    );
  });

  it('header is padded with spaces to a multiple of 8 and data follows it directly', () => {
    fc.assert(
      fc.property(filesArb, (tensors) => {
        const bytes = serializeSafetensors(tensors);
        const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect(n % 8).toBe(0);
        const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
        expect(text).toBe(text.trimEnd() + ' '.repeat(text.length - text.trimEnd().length));
        expect(text.length - text.trimEnd().length).toBeLessThan(8);
        const total = tensors.reduce((s, t) => s + (JSON.parse(text)[t.name].data_offsets[1] - JSON.parse(text)[t.name].data_offsets[0]), 0);
        expect(bytes.byteLength).toBe(8 + n + total);
      }),
      { numRuns: 60 },
    );
  });

  it('exact bytes of a known small file (hand-computed header)', () => {
    const file = nextFile();
    writeSafetensors(file, [{ name: 'a', dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) }]);
    // {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} is 54 bytes, padded with 2 spaces to 56.
    const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ';
    const expected = Buffer.concat([
      Buffer.from([56, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from(json, 'ascii'),
      Buffer.from([0x00, 0x00, 0x80, 0x3f]), // 1.0f little-endian
      Buffer.from([0x00, 0x00, 0x00, 0xc0]), // -2.0f little-endian
    ]);
    expect(fs.readFileSync(file).equals(expected)).toBe(true);
  });

  it('exact bytes with metadata first and a BF16 tensor (rounded to nearest even)', () => {
    // 1 + 2^-8 is exactly halfway between two bf16 values; ties go to the even mantissa (1.0).
    const bytes = serializeSafetensors([{ name: 'w', dtype: 'BF16', shape: [2], data: new Float32Array([1 + 2 ** -8, 3 * 2 ** -8 + 1]) }], { format: 'pt' });
    const json = '{"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}';
    expect(json.length).toBe(86);
    const expected = Buffer.concat([Buffer.from([88, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(json + '  ', 'ascii'), Buffer.from([0x80, 0x3f, 0x82, 0x3f])]);
    expect(Buffer.from(bytes).equals(expected)).toBe(true);
  });

  it('f32 -> f16 / bf16 -> f32 is exact on representable values and rounds like tensor-core otherwise', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true }), { minLength: 1, maxLength: 40 }), (xs) => {
        const src = Float32Array.from(xs);
        const file = nextFile();
        writeSafetensors(file, [
          { name: 'h', dtype: 'F16', shape: [src.length], data: src },
          { name: 'b', dtype: 'BF16', shape: [src.length], data: src },
          { name: 'hr', dtype: 'F16', shape: [src.length], data: Float32Array.from(src, (x) => f16BitsToF32(f32ToF16Bits(x))) },
        ]);
        const st = SafetensorsFile.open(file);
        sameF32(st.readF32('h'), Array.from(src, (x) => f16BitsToF32(f32ToF16Bits(x))));
        sameF32(st.readF32('b'), Array.from(src, (x) => bf16BitsToF32(f32ToBf16Bits(x))));
        // Already-representable values survive a second trip unchanged.
        sameF32(st.readF32('hr'), st.readF32('h'));
        st.close();
      }),
      { numRuns: 60 },
    );
  });

  it('raw inputs: Uint16Array bits for F16/BF16, Uint8Array bytes, BigInt64Array for I64, Float64Array for F64', () => {
    const file = nextFile();
    writeSafetensors(file, [
      { name: 'h', dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7c00]) },
      { name: 'b', dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xff80]) },
      { name: 'u', dtype: 'U8', shape: [2, 2], data: new Uint8Array([0, 1, 254, 255]) },
      { name: 'r', dtype: 'I16', shape: [2], data: new Uint8Array([0xff, 0xff, 0x02, 0x00]) },
      { name: 'q', dtype: 'I64', shape: [2], data: new BigInt64Array([-5n, 1n << 40n]) },
      { name: 'd', dtype: 'F64', shape: [1], data: new Float64Array([0.1]) },
    ]);
    const st = SafetensorsFile.open(file);
    expect(Array.from(st.readF32('h'))).toEqual([1, -2, Infinity]);
    expect(Array.from(st.readF32('b'))).toEqual([1, -Infinity]);
    expect(Array.from(st.readI32('u'))).toEqual([0, 1, 254, 255]);
    expect(Array.from(st.readI32('r'))).toEqual([-1, 2]);
    expect(Array.from(st.readF32('q'))).toEqual([-5, 2 ** 40]);
    expect(() => st.readI32('q')).toThrow(/does not fit in int32/);
    expect(Array.from(new Float64Array(st.readRaw('d').buffer))).toEqual([0.1]);
    expect(st.readF32('d')[0]).toBe(Math.fround(0.1));
    expect(() => st.readI32('d')).toThrow(SafetensorsError);
    st.close();
    expect(() => st.readRaw('h')).toThrow(/closed/);
  });

  it('rejects bad writer input with SafetensorsError naming the tensor, and leaves no file behind', () => {
    const file = nextFile();
    const bad: [SafetensorsTensorInput, RegExp][] = [
      [{ name: 'x', dtype: 'F32', shape: [3], data: new Float32Array(2) }, /'x'.*2 elements but F32 \[3\] needs 3/],
      [{ name: 'x', dtype: 'I8', shape: [1], data: new Int32Array([200]) }, /value 200 at element 0 is not representable as I8/],
      [{ name: 'x', dtype: 'I32', shape: [1], data: new Float32Array([0.5]) }, /not representable as I32/],
      [{ name: 'x', dtype: 'F32', shape: [1], data: new Uint16Array(1) }, /Uint16Array data is raw F16\/BF16 bits/],
      [{ name: 'x', dtype: 'Q4' as SafetensorsDType, shape: [1], data: new Float32Array(1) }, /unknown dtype "Q4"/],
      [{ name: 'x', dtype: 'F32', shape: [-1], data: new Float32Array(1) }, /shape \[-1\]/],
      [{ name: '__metadata__', dtype: 'F32', shape: [1], data: new Float32Array(1) }, /reserved/],
    ];
    for (const [t, re] of bad) {
      for (const input of [[t], (function* () { yield t; })()]) {
        const err = (() => {
          try {
            writeSafetensors(file, input);
          } catch (e) {
            return e;
          }
          return null;
        })();
        expect(err).toBeInstanceOf(SafetensorsError);
        expect((err as Error).message).toMatch(re);
        expect(fs.existsSync(file)).toBe(false);
      }
    }
    const dup = { name: 'd', dtype: 'F32' as const, shape: [1], data: new Float32Array(1) };
    expect(() => writeSafetensors(file, [dup, dup])).toThrow(/given twice/);
    expect(() => writeSafetensors(file, new Set([dup, { ...dup }]))).toThrow(/given twice/);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('an error while writing keeps the previous file intact', () => {
    const file = nextFile();
    writeSafetensors(file, [{ name: 'old', dtype: 'F32', shape: [1], data: new Float32Array([7]) }]);
    const before = fs.readFileSync(file);
    expect(() =>
      writeSafetensors(file, [
        { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array([1]) },
        { name: 'b', dtype: 'F32', shape: [1], data: () => { throw new Error('producer failed'); } },
      ]),
    ).toThrow('producer failed');
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('reads lazily: only the asked tensor is read, lazy producers are called once each in order', () => {
    const file = nextFile();
    const calls: string[] = [];
    const big = new Float32Array(100_000).map((_, i) => i);
    writeSafetensors(file, ['x', 'y', 'z'].map((name, k) => ({ name, dtype: 'F32' as const, shape: [100_000], data: () => (calls.push(name), big.map((v) => v + k)) })));
    expect(calls).toEqual(['x', 'y', 'z']);
    const st = SafetensorsFile.open(file);
    expect(st.headerLength).toBeLessThan(300);
    const y = st.readRaw('y');
    expect(y.byteLength).toBe(400_000);
    expect(y.buffer.byteLength).toBe(400_000);
    expect(st.readF32('z')[99_999]).toBe(99_999 + 2);
    expect(() => st.info('nope')).toThrow(/tensor 'nope': no such tensor/);
    st.close();
  });

  it.runIf(hasNumpy)('a pure-python reader (struct + json + numpy.frombuffer) reads our file', () => {
    const file = nextFile();
    const f32 = new Float32Array([1.5, -0, Infinity, 3.25e-5, -7]);
    writeSafetensors(
      file,
      [
        { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [5], data: f32 },
        { name: 'h', dtype: 'F16', shape: [2, 2], data: new Float32Array([0.5, -1, 65504, 2 ** -24]) },
        { name: 'b', dtype: 'BF16', shape: [3], data: new Float32Array([1, -2.5, 3e38]) },
        { name: 'i', dtype: 'I64', shape: [2], data: new Int32Array([-3, 123456789]) },
        { name: 's', dtype: 'I8', shape: [], data: new Int32Array([-7]) },
        { name: 'e', dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
      ],
      { format: 'pt' },
    );
    const py = `
import json, struct, sys, numpy as np
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
out = {'__metadata__': header.pop('__metadata__')}
for name, e in header.items():
    b, end = e['data_offsets']
    buf = data[b:end]
    if e['dtype'] == 'BF16':
        arr = (np.frombuffer(buf, dtype='<u2').astype(np.uint32) << 16).view(np.float32)
    else:
        arr = np.frombuffer(buf, dtype={'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I8': 'i1'}[e['dtype']])
    arr = arr.reshape(e['shape'])
    out[name] = {'shape': list(arr.shape), 'values': [repr(float(v)) for v in arr.reshape(-1)]}
print(json.dumps(out))
`;
    const r = spawnSync('python3', ['-c', py, file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.__metadata__).toEqual({ format: 'pt' });
    const vals = (k: string): number[] => out[k].values.map((s: string) => (s === 'inf' ? Infinity : Number(s)));
    expect(vals('model.embed_tokens.weight')).toEqual(Array.from(f32));
    expect(out.h.shape).toEqual([2, 2]);
    expect(vals('h')).toEqual([0.5, -1, 65504, 2 ** -24]);
    expect(vals('b')).toEqual([1, -2.5, bf16BitsToF32(f32ToBf16Bits(3e38))]);
    expect(vals('i')).toEqual([-3, 123456789]);
    expect(out.s).toEqual({ shape: [], values: ['-7.0'] });
    expect(out.e).toEqual({ shape: [0, 3], values: [] });
  });

  it.runIf(hasNumpy)('we read a file written by a Python script that follows the spec (numpy tobytes)', () => {
    const file = nextFile();
    const py = `
import json, struct, sys, numpy as np
tensors = {'w': np.arange(6, dtype='<f4').reshape(2, 3) / 3, 'n': np.array([-1, 2**40], dtype='<i8'), 'h': np.array([1.5, -0.25], dtype='<f2')}
header, off, blobs = {'__metadata__': {'format': 'np'}}, 0, []
for k, a in tensors.items():
    b = a.tobytes(); header[k] = {'dtype': {'float32': 'F32', 'int64': 'I64', 'float16': 'F16'}[str(a.dtype)], 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}; off += len(b); blobs.append(b)
h = json.dumps(header).encode(); h += b' ' * (-len(h) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
`;
    const r = spawnSync('python3', ['-c', py, file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const st = SafetensorsFile.open(file);
    expect(st.metadata).toEqual({ format: 'np' });
    expect(st.info('w').shape).toEqual([2, 3]);
    sameF32(st.readF32('w'), [0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3]);
    expect(Array.from(st.readF32('n'))).toEqual([-1, 2 ** 40]);
    expect(Array.from(st.readF32('h'))).toEqual([1.5, -0.25]);
    st.close();
  });
});

describe('chunked tensor data', () => {
  it('property: chunks given as single views or as lists of views (writev, zero-length views included) write the same bytes as the array', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }).filter((b) => b.length % 2 === 0),
      fc.array(fc.nat(), { maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }),
      (bytes, cutSeeds, groupSeeds) => {
        // Cut the bytes into views at arbitrary (sorted, possibly repeated) offsets, then group them into lists.
        const cuts = [0, ...cutSeeds.map((c) => (bytes.length ? c % (bytes.length + 1) : 0)).sort((a, b) => a - b), bytes.length];
        const views = cuts.slice(1).map((e, i) => bytes.subarray(cuts[i]!, e));
        const chunks: (Uint8Array | Uint8Array[])[] = [];
        let i = 0;
        for (const g of groupSeeds) {
          if (i >= views.length) break;
          chunks.push(g % 3 === 0 ? views[i++]! : views.slice(i, (i += g)));
        }
        if (i < views.length) chunks.push(views.slice(i));
        const shape = [bytes.length / 2];
        const a = nextFile();
        const b = nextFile();
        writeSafetensors(a, [{ name: 'w', dtype: 'BF16', shape, data: new Uint16Array(bytes.slice().buffer) }]);
        writeSafetensors(b, [{ name: 'w', dtype: 'BF16', shape, data: () => { throw new Error('chunks must win'); }, chunks: () => chunks }]);
        expect(fs.readFileSync(b).equals(fs.readFileSync(a))).toBe(true);
      },
    ), { numRuns: 60 });
  });

  it('rejects chunk lists that hold too many or too few bytes, naming the tensor', () => {
    const f = nextFile();
    const two = new Uint8Array(4);
    expect(() => writeSafetensors(f, [{ name: 'w', dtype: 'BF16', shape: [3], data: new Uint16Array(3), chunks: () => [[two, two]] }])).toThrow(/'w'.*more than the 6 bytes/);
    expect(() => writeSafetensors(f, [{ name: 'w', dtype: 'BF16', shape: [3], data: new Uint16Array(3), chunks: () => [[two]] }])).toThrow(/'w'.*4 bytes but BF16 \[3\] needs 6/);
    expect(fs.existsSync(f)).toBe(false);
  });
});
