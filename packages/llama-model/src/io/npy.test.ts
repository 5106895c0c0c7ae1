import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { npyHeader, readNpy, readNpyF32, writeNpy } from './npy.js';
import { NpyError } from './errors.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'npy-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const nextFile = (): string => path.join(tmp, `a${n++}.npy`);
const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
const python = (code: string, ...args: string[]) => spawnSync('python3', ['-c', code, ...args], { encoding: 'utf8' });

const shapeArb = fc.array(fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 6 })), { maxLength: 4 });
const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);

describe('npy', () => {
  it('round trips f4 / i4 / f8 for random shapes incl. 0-d and empty', () => {
    fc.assert(
      fc.property(shapeArb, fc.constantFrom('f4', 'i4', 'f8'), fc.integer(), (shape, kind, seed) => {
        const k = size(shape);
        const data =
          kind === 'f4' ? Float32Array.from({ length: k }, (_, i) => Math.fround((seed % 1000) + i / 3)) : kind === 'i4' ? Int32Array.from({ length: k }, (_, i) => (seed + i) | 0) : Float64Array.from({ length: k }, (_, i) => seed / 7 + i);
        const file = nextFile();
        writeNpy(file, data, shape);
        const back = readNpy(file);
        expect(back.shape).toEqual(shape);
        expect(back.descr).toBe(`<${kind}`);
        expect(back.data.constructor).toBe(data.constructor);
        expect(Array.from(back.data as ArrayLike<number>)).toEqual(Array.from(data));
        const bytes = fs.readFileSync(file);
        const dataStart = bytes.byteLength - data.byteLength;
        expect(dataStart % 64).toBe(0);
        expect(bytes[dataStart - 1]).toBe(0x0a);
      }),
      { numRuns: 80 },
    );
  });

  it('byte-exact header: what numpy.save writes for float32 (2, 3)', () => {
    const h = npyHeader('<f4', [2, 3]);
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    // numpy adds 21 - len('2') spaces of growth room, then pads so 10 + header length is a multiple of 64.
    const body = dict + ' '.repeat(20);
    const padded = body + ' '.repeat(128 - 10 - body.length - 1) + '\n';
    const expected = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY', 'ascii'), Buffer.from([1, 0, 118, 0]), Buffer.from(padded, 'latin1')]);
    expect(h.byteLength).toBe(128);
    expect(Buffer.from(h).equals(expected)).toBe(true);
    expect(Buffer.from(npyHeader('<i4', [])).toString('latin1')).toMatch(/^\x93NUMPY\x01\x00v\x00\{'descr': '<i4', 'fortran_order': False, 'shape': \(\), \} +\n$/);
    expect(Buffer.from(npyHeader('<f4', [5])).toString('latin1')).toContain("'shape': (5,), }");
  });

  it.runIf(hasNumpy)('numpy reads our files, and our bytes equal numpy.save bytes', () => {
    const cases: [Float32Array | Int32Array, number[]][] = [
      [new Float32Array([1.5, -2, 3.25, 0, -0, 1e-30]), [2, 3]],
      [new Int32Array([-7]), []],
      [new Float32Array(0), [0, 4]],
      [Int32Array.from({ length: 24 }, (_, i) => i * 1000 - 5), [2, 3, 4]],
    ];
    for (const [data, shape] of cases) {
      const file = nextFile();
      writeNpy(file, data, shape);
      const r = python(
        `import numpy as np, sys, io, json
a = np.load(sys.argv[1])
b = io.BytesIO(); np.save(b, a)
same = b.getvalue() == open(sys.argv[1], 'rb').read()
print(json.dumps({'dtype': a.dtype.str, 'shape': list(a.shape), 'values': [float(v) for v in a.reshape(-1)], 'same': same}))`,
        file,
      );
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out.dtype).toBe(data instanceof Float32Array ? '<f4' : '<i4');
      expect(out.shape).toEqual(shape);
      expect(out.values).toEqual(Array.from(data)); // -0 survives: numpy prints -0.0
      expect(out.same).toBe(true);
    }
  });

  it.runIf(hasNumpy)('reads files numpy wrote (f4, f8, i4, i8; v1.0 and v2.0 headers)', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'np-'));
    const r = python(
      `import numpy as np, sys, os
d = sys.argv[1]
np.save(os.path.join(d, 'f4.npy'), (np.arange(12, dtype=np.float32) / 4).reshape(3, 4))
np.save(os.path.join(d, 'f8.npy'), np.array([0.1, -2.0]))
np.save(os.path.join(d, 'i4.npy'), np.array([[1, -2]], dtype=np.int32))
np.save(os.path.join(d, 'i8.npy'), np.array([2**40, -3], dtype=np.int64))
with open(os.path.join(d, 'v2.npy'), 'wb') as f:
    np.lib.format.write_array(f, np.ones((2, 2), dtype=np.float32), version=(2, 0))
np.save(os.path.join(d, 'fortran.npy'), np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
np.save(os.path.join(d, 'be.npy'), np.ones(3, dtype='>f4'))`,
      dir,
    );
    expect(r.stderr).toBe('');
    const f4 = readNpy(path.join(dir, 'f4.npy'));
    expect(f4.shape).toEqual([3, 4]);
    expect(Array.from(f4.data as Float32Array)).toEqual(Array.from({ length: 12 }, (_, i) => i / 4));
    expect(Array.from(readNpy(path.join(dir, 'f8.npy')).data as Float64Array)).toEqual([0.1, -2]);
    expect(Array.from(readNpy(path.join(dir, 'i4.npy')).data as Int32Array)).toEqual([1, -2]);
    expect(Array.from(readNpy(path.join(dir, 'i8.npy')).data as BigInt64Array)).toEqual([2n ** 40n, -3n]);
    expect(Array.from(readNpyF32(path.join(dir, 'i8.npy')).data)).toEqual([2 ** 40, -3]);
    expect(Array.from(readNpyF32(path.join(dir, 'v2.npy')).data)).toEqual([1, 1, 1, 1]);
    expect(() => readNpy(path.join(dir, 'fortran.npy'))).toThrow(/fortran_order True is not supported/);
    expect(() => readNpy(path.join(dir, 'be.npy'))).toThrow(/'>f4' is not supported/);
  });

  it('refuses bad input and corrupt files with NpyError naming the file', () => {
    const file = nextFile();
    expect(() => writeNpy(file, new Float32Array(5), [2, 3])).toThrow(NpyError);
    expect(() => writeNpy(file, new Float32Array(5), [2, 3])).toThrow(/holds 6 elements but the data has 5/);
    expect(() => writeNpy(file, new Uint8Array(2) as unknown as Float32Array, [2])).toThrow(/cannot write/);
    expect(fs.existsSync(file)).toBe(false);
    writeNpy(file, new Float32Array([1, 2, 3]), [3]);
    const good = fs.readFileSync(file);
    fs.writeFileSync(file, good.subarray(0, good.byteLength - 2));
    expect(() => readNpy(file)).toThrow(new RegExp(`${path.basename(file)}: shape \\(3\\) of <f4 needs 12 data bytes but the file has 10`));
    fs.writeFileSync(file, Buffer.from('PK\x03\x04 not npy'));
    expect(() => readNpy(file)).toThrow(/bad magic/);
    const lying = Buffer.from(good);
    lying.writeUInt16LE(60000, 8);
    fs.writeFileSync(file, lying);
    expect(() => readNpy(file)).toThrow(/runs past the end/);
    expect(() => readNpy(path.join(tmp, 'missing.npy'))).toThrow(/cannot read/);
  });
});
