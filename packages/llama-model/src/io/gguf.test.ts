import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '@llama-moe/tensor-core';
import { GgufError } from './errors.js';
import { dequantizeQ8_0, gguf, quantizeQ8_0, type GgufValue } from './gguf-format.js';
import { GgufFile } from './gguf-reader.js';
import { serializeGguf, writeGguf, type GgufTensorInput } from './gguf-writer.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function randn(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) * scale;
  return out;
}

const META: Array<[string, GgufValue]> = [
  ['general.architecture', gguf.str('llama')],
  ['general.alignment', gguf.u32(64)],
  ['u8', { type: 'UINT8', value: 255 }],
  ['i8', { type: 'INT8', value: -128 }],
  ['u16', { type: 'UINT16', value: 65535 }],
  ['i16', { type: 'INT16', value: -32768 }],
  ['u32', gguf.u32(4294967295)],
  ['i32', gguf.i32(-2147483648)],
  ['f32', gguf.f32(0.1)],
  ['f64', { type: 'FLOAT64', value: Math.PI }],
  ['bool', gguf.bool(true)],
  ['u64', gguf.u64(2n ** 64n - 1n)],
  ['i64', { type: 'INT64', value: -(2n ** 63n) }],
  ['str', gguf.str('ünïcödé ▁ 🦙')],
  ['strs', gguf.strings(['a', '', '▁b', '<0x0A>'])],
  ['f32s', gguf.f32s(Float32Array.of(-1.5, 0, 3))],
  ['i32s', gguf.i32s(Int32Array.of(1, 2, 6))],
  ['bools', { type: 'ARRAY', itemType: 'BOOL', value: [true, false] }],
  ['u64s', { type: 'ARRAY', itemType: 'UINT64', value: [0n, 2n ** 40n] }],
];

describe('GGUF v3 writer and reader', () => {
  it('round-trips every metadata type and F32 / F16 / BF16 tensors bit for bit, at the asked alignment', () => {
    const a = randn(3 * 5, 1), b = randn(7 * 2 * 3, 2), c = randn(64, 3), d = randn(33, 4);
    const tensors: GgufTensorInput[] = [
      { name: 'a', type: 'F32', shape: [3, 5], data: a },
      { name: 'b', type: 'F16', shape: [7, 2, 3], data: () => b },
      { name: 'c', type: 'BF16', shape: [2, 32], data: c },
      { name: 'd', type: 'F32', shape: [33], data: d },
    ];
    const file = path.join(tmp, 'rt.gguf');
    const res = writeGguf(file, META, tensors);
    expect(res.alignment).toBe(64);
    expect(fs.statSync(file).size).toBe(res.byteLength);
    expect(fs.readFileSync(file)).toEqual(Buffer.from(serializeGguf(META, tensors)));
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
    const g = GgufFile.open(file);
    try {
      expect(g.version).toBe(3);
      expect(g.alignment).toBe(64);
      expect(g.dataStart % 64).toBe(0);
      expect([...g.metadata.keys()]).toEqual(META.map(([k]) => k));
      const js = g.metadataJs();
      expect(js).toMatchObject({ u8: 255, i8: -128, u16: 65535, i16: -32768, u32: 4294967295, i32: -2147483648, bool: true, u64: '18446744073709551615', i64: '-9223372036854775808', str: 'ünïcödé ▁ 🦙', strs: ['a', '', '▁b', '<0x0A>'], f32s: [-1.5, 0, 3], i32s: [1, 2, 6], bools: [true, false], u64s: [0, 2 ** 40] });
      expect(js.f32).toBe(Math.fround(0.1));
      expect(js.f64).toBe(Math.PI);
      expect(g.keys()).toEqual(['a', 'b', 'c', 'd']);
      expect(g.info('b').ne).toEqual([3, 2, 7]);
      expect(g.info('b').shape).toEqual([7, 2, 3]);
      for (const k of g.keys()) expect(g.info(k).offset % 64).toBe(0);
      expect(g.readF32('a')).toEqual(a);
      expect(g.readF32('b')).toEqual(f16ToF32(f32ToF16(b)));
      expect(g.readF32('c')).toEqual(bf16ToF32(f32ToBf16(c)));
      expect(g.readF32('d')).toEqual(d);
      expect(g.readTensor('b').shape).toEqual([7, 2, 3]);
    } finally {
      g.close();
    }
  });

  it("node-llama-cpp's own GGUF parser reads the same metadata, dims, types and absolute offsets", async () => {
    const { readGgufFileInfo } = await import('node-llama-cpp');
    const tensors: GgufTensorInput[] = [
      { name: 'blk.0.w', type: 'Q8_0', shape: [3, 64], data: randn(192, 1) },
      { name: 'blk.0.n', type: 'F32', shape: [5], data: randn(5, 2) },
      { name: 'blk.1.w', type: 'BF16', shape: [2, 3, 4], data: randn(24, 3) },
    ];
    const meta: Array<[string, GgufValue]> = [['general.architecture', gguf.str('llama')], ['llama.block_count', gguf.u32(2)], ['llama.rope.freq_base', gguf.f32(10000)], ['tokenizer.ggml.tokens', gguf.strings(['<s>', '▁a', '日本'])], ['tokenizer.ggml.add_bos_token', gguf.bool(true)], ['general.alignment', gguf.u32(64)]];
    const file = path.join(tmp, 'cross.gguf');
    writeGguf(file, meta, tensors);
    const info = await readGgufFileInfo(file, { logWarnings: false });
    const ours = GgufFile.open(file);
    try {
      expect(info.version).toBe(3);
      const m = info.metadata as unknown as { general: Record<string, unknown>; llama: Record<string, unknown> & { rope: Record<string, unknown> }; tokenizer: { ggml: Record<string, unknown> } };
      expect(m.general.architecture).toBe('llama');
      expect(m.general.alignment).toBe(64);
      expect(m.llama.block_count).toBe(2);
      expect(m.llama.rope.freq_base).toBe(10000);
      expect(m.tokenizer.ggml.tokens).toEqual(['<s>', '▁a', '日本']);
      expect(m.tokenizer.ggml.add_bos_token).toBe(true);
      expect(info.tensorInfo!.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType, Number(t.offset), Number(t.fileOffset)])).toEqual(
        ours.keys().map((k) => { const i = ours.info(k); return [k, [...i.ne], { F32: 0, F16: 1, Q8_0: 8, BF16: 30 }[i.type], i.offset, ours.dataStart + i.offset]; }),
      );
    } finally {
      ours.close();
    }
  });

  it('Q8_0 matches ggml block layout and stays within its quantisation bound', () => {
    const x = randn(32 * 64, 5, 3);
    x[7] = 0; // a zero block must be all zeros
    x.fill(0, 32, 64);
    const q = quantizeQ8_0(x);
    expect(q.byteLength).toBe(64 * 34);
    expect([...q.subarray(34, 68)].every((v) => v === 0)).toBe(true);
    const file = path.join(tmp, 'q8.gguf');
    writeGguf(file, [], [{ name: 'w', type: 'Q8_0', shape: [64, 32], data: x }]);
    const g = GgufFile.open(file);
    const y = g.readF32('w');
    expect(g.readRaw('w')).toEqual(q);
    g.close();
    expect(y).toEqual(dequantizeQ8_0(q));
    for (let b = 0; b < 64; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
      // Half a step of d = amax/127, plus the f16 rounding of d (relative 2^-11) times |q| <= 127.
      const bound = (amax / 127) * (0.5 + 127 * 2 ** -11) + 1e-7;
      for (let j = 0; j < 32; j++) expect(Math.abs(y[b * 32 + j]! - x[b * 32 + j]!)).toBeLessThanOrEqual(bound);
    }
    // Hand-checked block: amax 127 -> d 1, q = roundf(x) (half away from zero).
    const blk = new Float32Array(32);
    blk[0] = 127; blk[1] = 2.5; blk[2] = -2.5; blk[3] = 0.49;
    const qb = quantizeQ8_0(blk);
    expect(new DataView(qb.buffer).getUint16(0, true)).toBe(0x3c00);
    expect([...new Int8Array(qb.buffer, 2, 4)]).toEqual([127, 3, -3, 0]);
  });

  it('refuses bad input to the writer with typed errors and leaves nothing behind', () => {
    const file = path.join(tmp, 'bad.gguf');
    const bad = (tensors: GgufTensorInput[], meta: Array<[string, GgufValue]> = []) => () => writeGguf(file, meta, tensors);
    expect(bad([{ name: 'w', type: 'Q8_0', shape: [2, 30], data: new Float32Array(60) }])).toThrow(/tensor 'w': Q8_0 needs ne\[0\] = 30 to be a multiple of 32/);
    expect(bad([{ name: 'w', type: 'F32', shape: [2, 3], data: new Float32Array(5) }])).toThrow(/tensor 'w': data has 5 elements/);
    expect(bad([{ name: 'w', type: 'F32', shape: [1], data: new Float32Array(1) }, { name: 'w', type: 'F32', shape: [1], data: new Float32Array(1) }])).toThrow(/given twice/);
    expect(bad([{ name: 'w', type: 'Q4_0' as never, shape: [32], data: new Float32Array(32) }])).toThrow(GgufError);
    expect(bad([], [['general.alignment', gguf.u32(48)]])).toThrow(/power of two/);
    expect(bad([], [['x', gguf.u32(-1)]])).toThrow(/metadata 'x'/);
    expect(bad([{ name: 'w', type: 'F32', shape: [4], data: () => { throw new GgufError(file, 'w', 'source vanished'); } }])).toThrow(/source vanished/);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith('bad.gguf'))).toEqual([]);
  });

  it('refuses lying and truncated files with one-line errors naming the file and tensor', () => {
    const tensors: GgufTensorInput[] = [
      { name: 'blk.0.w', type: 'F32', shape: [4, 8], data: randn(32, 9) },
      { name: 'blk.1.w', type: 'F16', shape: [8], data: randn(8, 10) },
    ];
    const bytes = serializeGguf([['general.architecture', gguf.str('llama')]], tensors);
    const file = path.join(tmp, 'lie.gguf');
    const open = (b: Uint8Array) => {
      fs.writeFileSync(file, b);
      const g = GgufFile.open(file);
      try {
        for (const k of g.keys()) g.readF32(k);
      } finally {
        g.close();
      }
    };
    const expectErr = (b: Uint8Array, re: RegExp) => {
      let err: unknown = null;
      try {
        open(b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GgufError);
      const m = (err as Error).message;
      expect(m.startsWith(`${file}: `)).toBe(true);
      expect(m).not.toContain('\n');
      expect(m).toMatch(re);
    };
    open(bytes);
    expectErr(bytes.subarray(0, bytes.byteLength - 20), /tensor 'blk.1.w': F16 ne \[8\] needs data/);
    expectErr(bytes.subarray(0, 40), /more than the file holds/);
    expectErr(bytes.subarray(0, 110), /file ended while reading/);
    const magic = bytes.slice(); magic[0] = 0x47; magic[3] = 0x47;
    expectErr(magic, /not a GGUF file/);
    const manyTensors = bytes.slice(); new DataView(manyTensors.buffer).setBigUint64(8, 2n ** 62n, true);
    expectErr(manyTensors, /beyond any real file|more than the file holds/);
    const manyKv = bytes.slice(); new DataView(manyKv.buffer).setBigUint64(16, 1000000n, true);
    expectErr(manyKv, /more than the file holds/);
    const longKey = bytes.slice(); new DataView(longKey.buffer).setBigUint64(24, 2n ** 40n, true);
    expectErr(longKey, /metadata key #0/);
    // The type of the first tensor: find 'blk.0.w' then skip n_dims (4) + 2 dims (16).
    const at = Buffer.from(bytes).indexOf('blk.0.w') + 7;
    const badType = bytes.slice(); new DataView(badType.buffer).setUint32(at + 4 + 16, 2, true);
    expectErr(badType, /tensor 'blk.0.w': type Q4_0 is not supported/);
    const badDims = bytes.slice(); new DataView(badDims.buffer).setUint32(at, 9, true);
    expectErr(badDims, /tensor 'blk.0.w': n_dims 9/);
    const misaligned = bytes.slice(); new DataView(misaligned.buffer).setBigUint64(at + 4 + 16 + 4, 4n, true);
    expectErr(misaligned, /tensor 'blk.0.w': offset 4 is not a multiple of the alignment 32/);
    const overlap = bytes.slice(); new DataView(overlap.buffer).setBigUint64(at + 4 + 16 + 4, 128n, true);
    expectErr(overlap, /overlaps|needs data/);
  });
});
