import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackendChain, lastBackend, runKernel, setBackend } from '../../registry.js';
import { Tensor } from '../../tensor.js';
import { PIN_MAX_FLOATS, isPinned, pinTensors } from '../../pin-tensors.js';
import { buildMatmul, checkMatmul, matmulProblem, type MatmulProblem } from '../../testing/matmul-problem.js';
import { firstMismatch, randomF32, referenceMatmul } from '../../bench/gemm-reference.js';
import { gemvForm } from '../gemv-form.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { disposeNativeBackend, initNativeBackend } from '../native/index.js';
import { WeightArena, isSharedView, weightArenaOf } from './weight-arena.js';

const up4 = (x: number) => 4 * Math.ceil(x / 4);
/** A product with M = 1 or N = 1, vector side a multiple of 4 (half the time), every transpose, batch, broadcast, accumulate. */
const problem: fc.Arbitrary<MatmulProblem> = fc.record({ p: matmulProblem(90), oneRow: fc.boolean(), quad: fc.boolean() }).map(({ p, oneRow, quad }) => {
  const other = quad ? up4(oneRow ? p.n : p.m) : oneRow ? p.n : p.m;
  return { ...p, m: oneRow ? 1 : other, n: oneRow ? other : 1, k: quad ? up4(p.k) : p.k };
});

/** Float capacity of the test arenas' one array: the largest matrix operand `problem` makes. */
const CAP = 3 * 92 * 92; // batch ≤ 3, both sides ≤ 90 rounded up to a multiple of 4

describe('weight arena (pinned weights, matrix–vector products in place)', () => {
  const arenas: { arena: WeightArena; room: Float32Array }[] = [];

  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
    for (const threads of [1, 2]) {
      // minFloats 0: the property's small matrices must run in place, not fall back to the copying kernel
      const made = await WeightArena.create([new Float32Array(CAP)], { threads, minFloats: 0 });
      expect(made).not.toBeNull();
      arenas.push({ arena: made!.arena, room: made!.views[0]! });
    }
    expect(arenas[1]!.arena.threads).toBe(2);
  });
  afterAll(() => {
    for (const a of arenas) a.arena.dispose();
    disposeWasmBackend();
    disposeNativeBackend();
    setBackend(['cpu']);
  });

  it('property: agrees with a float64 reference (row and k tails, batches, broadcast, accumulate), one and two threads', () => {
    fc.assert(fc.property(problem, fc.integer({ min: 0, max: 1 }), (p, which) => {
      const { arena, room } = arenas[which]!;
      const f = gemvForm(p)!;
      let ran = false;
      checkMatmul((args) => {
        // the matrix operand moves into the arena (a view of its memory), the vector stays outside
        const mat = f.matrix === 'a' ? args.a : args.b;
        const view = room.subarray(0, mat.length);
        view.set(mat);
        expect(weightArenaOf(view)).toBe(arena);
        const pinned = f.matrix === 'a' ? { ...args, a: view } : { ...args, b: view };
        ran = arena.run(pinned, f);
        if (!ran) runKernel('matmul', args); // (a product the arena declines: reference path, checked all the same)
        else args.out.set(pinned.out);
      }, p);
      // the arena takes every product whose vector side is a multiple of 4
      expect(ran).toBe((f.kind === 'dot' ? f.inner : f.rows) % 4 === 0);
    }), { numRuns: 300 });
  });

  it('pinTensors moves the data of the sizes that gain into an arena, values unchanged, each tensor once, nothing on a second call', async () => {
    const a = new Tensor(randomF32(512 * 256, 1), [512, 256]);
    const b = new Tensor(randomF32(33, 2), [33]);
    const before = [a.data.slice(), b.data.slice()];
    const big = new Tensor(new Float32Array(PIN_MAX_FLOATS + 4), [PIN_MAX_FLOATS + 4]);
    const r = await pinTensors([a, b, a, big]);
    // b is under the in-place minimum and big over PIN_MAX_FLOATS: both stay where they are
    expect(r).toEqual({ tensors: 1, bytes: 4 * 512 * 256, threads: expect.any(Number) });
    expect([isPinned(a), isPinned(b), isPinned(big)]).toEqual([true, false, false]);
    expect(isSharedView(a.data as Float32Array) || r!.threads === 1).toBe(true);
    expect(Array.from(a.data)).toEqual(Array.from(before[0]!));
    expect(Array.from(b.data)).toEqual(Array.from(before[1]!));
    expect(await pinTensors([a, b])).toEqual({ tensors: 0, bytes: 0, threads: 0 });
    expect(await pinTensors([b], { minFloats: 1 })).toEqual({ tensors: 1, bytes: 4 * 33, threads: expect.any(Number) });
    expect(isPinned(b)).toBe(true);
  });

  it('pinTensors groups: a group is pinned whole, into the same arena, once one member is pinned by size; a group of small tensors stays', async () => {
    const large = new Tensor(randomF32(400 * 256, 4), [400, 256]), small = new Tensor(randomF32(48, 5), [48]), other = new Tensor(randomF32(40, 6), [40]);
    const lone = [new Tensor(randomF32(64, 7), [64]), new Tensor(randomF32(64, 8), [64])];
    const r = await pinTensors([large], { groups: [[large, small], lone] });
    expect(r!.tensors).toBe(2);
    expect([isPinned(large), isPinned(small), isPinned(other), ...lone.map(isPinned)]).toEqual([true, true, false, false, false]);
    expect(weightArenaOf(small.data as Float32Array)).toBe(weightArenaOf(large.data as Float32Array));
  });

  it('on the native → wasm chain a pinned matrix–vector product runs on wasm in place; a pinned multi-row product runs on native from a private copy; both correct', async () => {
    if (!initNativeBackend({ threads: 2 }).ok) return; // onnxruntime-node missing: nothing to route around
    setBackend(['native', 'wasm', 'cpu']);
    expect(getBackendChain()).toEqual(['native', 'wasm', 'cpu']);
    const N = 1024, K = 512;
    const w = new Tensor(randomF32(N * K, 3), [N, K]);
    const plain = w.data.slice() as Float32Array;
    await pinTensors([w]);
    const pinned = w.data as Float32Array;
    for (const m of [1, 64]) {
      const a = randomF32(m * K, 4 + m);
      const args = { a, b: pinned, out: new Float32Array(m * N), batch: 1, m, n: N, k: K, transA: false, transB: true, aStride: 0, bStride: 0, accumulate: false };
      runKernel('matmul', args);
      expect(lastBackend('matmul')).toBe(m === 1 ? 'wasm' : 'native');
      const want = referenceMatmul({ ...args, b: plain, out0: new Float32Array(m * N) });
      expect(firstMismatch(args.out, want)).toBeUndefined();
      // the same 2 MiB matrix unpinned stays on native
      const again = { ...args, b: plain, out: new Float32Array(m * N) };
      runKernel('matmul', again);
      expect(lastBackend('matmul')).toBe('native');
    }
    // accumulate into an output that is itself a pinned view
    const out = new Tensor(randomF32(N, 9), [1, N]);
    await pinTensors([out], { minFloats: 1 });
    const o0 = (out.data as Float32Array).slice();
    const x = randomF32(2 * K, 10);
    const args = { a: x, b: pinned, out: out.data as Float32Array, batch: 1, m: 1, n: N, k: K, transA: false, transB: true, aStride: 0, bStride: 0, accumulate: true };
    runKernel('matmul', { ...args, m: 1 });
    expect(firstMismatch(args.out, referenceMatmul({ ...args, b: plain, out0: o0 }))).toBeUndefined();
    const { args: multi, out0 } = buildMatmul({ batch: 2, m: 3, n: 8, k: 16, transA: true, transB: false, broadcastA: false, broadcastB: true, accumulate: true, seed: 5 });
    const mb = new Tensor(multi.b.slice(), [multi.b.length]);
    await pinTensors([mb], { minFloats: 1 });
    runKernel('matmul', { ...multi, b: mb.data as Float32Array });
    expect(firstMismatch(multi.out, referenceMatmul({ ...multi, out0 }))).toBeUndefined();
  });
});
