import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsFile } from './safetensors-reader.js';
import { serializeSafetensors, type SafetensorsTensorInput } from './safetensors-writer.js';
import { SAFETENSORS_DTYPES } from './safetensors-format.js';
import { SafetensorsError } from './errors.js';
import { stBytes } from '@llama-moe/test-support/fuzz';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'st-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = path.join(tmp, 'model.safetensors');

/** Open and read everything; returns 'ok' or the SafetensorsError. Any other throw fails the test. */
function openAndReadAll(bytes: Uint8Array): 'ok' | SafetensorsError {
  fs.writeFileSync(file, bytes);
  let st: SafetensorsFile | null = null;
  try {
    st = SafetensorsFile.open(file);
    for (const k of st.keys()) {
      st.readRaw(k);
      st.readF32(k);
      try {
        st.readTensor(k);
      } catch (e) {
        // I64 beyond int32 is a legitimate, typed refusal of readTensor.
        if (!(e instanceof SafetensorsError && /does not fit in int32/.test(e.message))) throw e;
      }
    }
    return 'ok';
  } catch (e) {
    if (e instanceof SafetensorsError) {
      expect(e.message.startsWith(`${file}: `)).toBe(true);
      expect(e.message).not.toContain('\n');
      return e;
    }
    throw new Error(`non-SafetensorsError thrown: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  } finally {
    st?.close();
  }
}

const tensorsArb = fc
  .uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 1, maxLength: 4 })
  .chain((names) =>
    fc.tuple(
      ...names.map((name) =>
        fc.record({ dtype: fc.constantFrom(...SAFETENSORS_DTYPES), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) }).map(({ dtype, shape }) => {
          const n = shape.reduce((a, b) => a * b, 1);
          const data = dtype === 'BOOL' ? new Int32Array(n) : dtype.startsWith('I') || dtype === 'U8' ? new Int32Array(n).fill(3) : new Float32Array(n).fill(0.5);
          return { name, dtype, shape, data } as SafetensorsTensorInput;
        }),
      ),
    ),
  );

/** Build a file from raw header text (so duplicate keys and non-objects can be expressed) and a data section. */
const build = stBytes;

function split(bytes: Uint8Array): { header: Record<string, any>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.slice(8 + n) };
}

/** Header lies that must always be refused. */
const lieArb = fc.constantFrom(
  'len-2^63', 'len-2^64-1', 'len-past-end', 'len-over-100MB', 'len-zero',
  'offset-past-end', 'overlap', 'hole', 'trailing', 'size-mismatch', 'begin-gt-end',
  'non-object-array', 'non-object-number', 'non-object-null', 'non-object-string', 'duplicate-key', 'duplicate-inner-key',
  'unknown-dtype', 'negative-dim', 'fractional-dim', 'huge-shape', 'offsets-3', 'offsets-float', 'metadata-number', 'entry-not-object',
  'bad-utf8', 'truncated-json', 'too-short',
);

function applyLie(lie: string, bytes: Uint8Array, tensors: readonly SafetensorsTensorInput[]): Uint8Array {
  const { header, data } = split(bytes);
  const names = tensors.map((t) => t.name);
  const first = names[0]!;
  const withBytes = names.find((k) => header[k].data_offsets[1] > header[k].data_offsets[0]);
  const re = (h: unknown, d = data) => build(JSON.stringify(h), d);
  switch (lie) {
    case 'len-2^63':
      return build(JSON.stringify(header), data, 1n << 63n);
    case 'len-2^64-1':
      return build(JSON.stringify(header), data, (1n << 64n) - 1n);
    case 'len-past-end':
      return build(JSON.stringify(header), data, BigInt(JSON.stringify(header).length + data.byteLength + 1));
    case 'len-over-100MB':
      return build(JSON.stringify(header), data, 100_000_001n);
    case 'len-zero':
      return build(JSON.stringify(header), data, 0n);
    case 'offset-past-end':
      header[first].data_offsets = [data.byteLength + 8, data.byteLength + 8 + (header[first].data_offsets[1] - header[first].data_offsets[0])];
      return re(header);
    case 'overlap': {
      // A second copy of the first tensor at the same offsets (or a one-byte tensor straddling it).
      header.zzcopy = { ...header[first] };
      if (header[first].data_offsets[0] === header[first].data_offsets[1]) {
        header.zzcopy = { dtype: 'U8', shape: [1], data_offsets: [0, 1] };
        header.zzother = { dtype: 'U8', shape: [1], data_offsets: [0, 1] };
        return re(header, new Uint8Array([...data, 0]));
      }
      return re(header);
    }
    case 'hole':
      for (const k of names) header[k].data_offsets = header[k].data_offsets.map((o: number) => o + 1);
      return re(header, new Uint8Array([0, ...data]));
    case 'trailing':
      return re(header, new Uint8Array([...data, 1, 2, 3]));
    case 'size-mismatch':
      header[first].shape = [...header[first].shape, 2];
      if (header[first].shape.includes(0)) header[first].shape = [3];
      return re(header);
    case 'begin-gt-end':
      header[first].data_offsets = [5, 4];
      return re(header);
    case 'non-object-array':
      return build('[1, 2]', data);
    case 'non-object-number':
      return build('42      ', data);
    case 'non-object-null':
      return build('null', data);
    case 'non-object-string':
      return build('"{}"', data);
    case 'duplicate-key': {
      const text = JSON.stringify(header);
      return build(`{"${first}":${JSON.stringify(header[first])},${text.slice(1)}`, data);
    }
    case 'duplicate-inner-key': {
      const e = header[first];
      const inner = `{"dtype":"${e.dtype}","shape":${JSON.stringify(e.shape)},"data_offsets":${JSON.stringify(e.data_offsets)},"dtype":"F64"}`;
      const rest = names.slice(1).map((k) => `${JSON.stringify(k)}:${JSON.stringify(header[k])}`);
      return build(`{${[`${JSON.stringify(first)}:${inner}`, ...rest].join(',')}}`, data);
    }
    case 'unknown-dtype':
      header[first].dtype = 'F8_E4M3_NOT';
      return re(header);
    case 'negative-dim':
      header[first].shape = [-1];
      return re(header);
    case 'fractional-dim':
      header[first].shape = [1.5];
      return re(header);
    case 'huge-shape':
      header[first].shape = [2 ** 40, 2 ** 40];
      return re(header);
    case 'offsets-3':
      header[first].data_offsets = [...header[first].data_offsets, 0];
      return re(header);
    case 'offsets-float':
      header[withBytes ?? first].data_offsets = [0.5, 1.5];
      return re(header);
    case 'metadata-number':
      header.__metadata__ = { format: 1 };
      return re(header);
    case 'entry-not-object':
      header[first] = [header[first].dtype];
      return re(header);
    case 'bad-utf8': {
      const b = build(JSON.stringify({ ...header, __metadata__: { k: 'ab' } }), data);
      const at = Buffer.from(b).indexOf('"ab"') + 1;
      b[at] = 0xff;
      return b;
    }
    case 'truncated-json': {
      const text = JSON.stringify(header);
      return build(text.slice(0, text.length - 1), data);
    }
    case 'too-short':
      return bytes.slice(0, 5);
    default:
      throw new Error(lie);
  }
}

describe('safetensors reader on corrupt / lying files', () => {
  it('header lies are always refused with a one-line SafetensorsError', () => {
    fc.assert(
      fc.property(tensorsArb, lieArb, (tensors, lie) => {
        const r = openAndReadAll(applyLie(lie, serializeSafetensors(tensors), tensors));
        if (r === 'ok') expect.fail(`lie '${lie}' was accepted`);
      }),
      { numRuns: 300 },
    );
  });

  it('random byte mutations and truncations only ever give SafetensorsError (or a valid read)', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), count: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0), count: fc.constant(1) }),
      fc.record({ kind: fc.constant('header' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), count: fc.integer({ min: 1, max: 3 }) }),
    );
    fc.assert(
      fc.property(tensorsArb, mutation, (tensors, m) => {
        const bytes = serializeSafetensors(tensors);
        let out: Uint8Array;
        if (m.kind === 'truncate') {
          out = bytes.slice(0, m.at % bytes.byteLength);
        } else {
          out = bytes.slice();
          // 'header' mutations target the length field and JSON, where parsing lives.
          const span = m.kind === 'header' ? Math.min(out.byteLength, 8 + Number(new DataView(out.buffer).getBigUint64(0, true))) : out.byteLength;
          for (let i = 0; i < m.count; i++) out[(m.at + i * 7919) % span] = (m.value + i * 31) & 0xff;
        }
        openAndReadAll(out);
      }),
      { numRuns: 400 },
    );
  });

  it('names the tensor and both sizes for a dtype size mismatch', () => {
    const data = new Uint8Array(100);
    const text = JSON.stringify({ 'model.layers.0.mlp.up_proj.weight': { dtype: 'BF16', shape: [4, 16], data_offsets: [0, 100] } });
    const r = openAndReadAll(build(text, data));
    expect(r).toBeInstanceOf(SafetensorsError);
    const e = r as SafetensorsError;
    expect(e.tensor).toBe('model.layers.0.mlp.up_proj.weight');
    expect(e.file).toBe(file);
    expect(e.message).toBe(`${file}: tensor 'model.layers.0.mlp.up_proj.weight': data_offsets [0, 100] hold 100 bytes but BF16 [4, 16] needs 128`);
  });

  it('reports holes and overlaps with both tensor names, and 2^63 header length cleanly', () => {
    const data = new Uint8Array(12);
    const hole = JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } });
    expect((openAndReadAll(build(hole, data)) as Error).message).toMatch(/tensor 'b': hole: data bytes \[4, 8\) after tensor 'a' belong to no tensor/);
    const overlap = JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } });
    expect((openAndReadAll(build(overlap, data)) as Error).message).toMatch(/tensor 'b': data_offsets \[4, 12\] overlap tensor 'a'/);
    const huge = openAndReadAll(build('{}', new Uint8Array(0), 1n << 63n));
    expect((huge as Error).message).toMatch(/header length 9223372036854775808 exceeds/);
    expect((openAndReadAll(build('{"a":1,"a":2}', new Uint8Array(0))) as Error).message).toMatch(/repeats key 'a'/);
  });

  it('a file truncated after opening is a typed error on read, not a short buffer', () => {
    const bytes = serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [64], data: new Float32Array(64).fill(1) }]);
    fs.writeFileSync(file, bytes);
    const st = SafetensorsFile.open(file);
    fs.truncateSync(file, bytes.byteLength - 10);
    expect(() => st.readF32('w')).toThrow(/file ended while reading/);
    st.close();
    expect(() => SafetensorsFile.open(path.join(tmp, 'missing.safetensors'))).toThrow(SafetensorsError);
    expect(() => SafetensorsFile.open(tmp)).toThrow(SafetensorsError);
  });
});
