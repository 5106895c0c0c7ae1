/**
 * Row gather / scatter-add (torch index_select / index_add along dim 0) for expert dispatch,
 * and gather along the last axis (torch.gather(x, -1, idx)) for picking routed scores.
 */
import { gradBuffer, record } from '../autograd.js';
import { runKernel } from '../registry.js';
import { IndexError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, assertFloat, shapeSize } from '../tensor.js';

/** x [N, ...] → [M, ...] with rows idx [M]. */
export function indexSelect(x: Tensor, idx: Tensor): Tensor {
  assertFloat('indexSelect', x);
  const ids = idx.i32('indexSelect');
  if (x.rank < 1) throw new ShapeError('indexSelect', `input must have rank ≥ 1, got ${fmtShape(x.shape)}`);
  const N = x.shape[0]!;
  const row = shapeSize(x.shape.slice(1));
  const src = x.f32();
  const out = gradBuffer(ids.length * row);
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i]!;
    if (r < 0 || r >= N) throw new IndexError('indexSelect', `index ${r} at ${i} is out of range [0, ${N}) for input ${fmtShape(x.shape)}`);
    out.set(src.subarray(r * row, (r + 1) * row), i * row);
  }
  return record(new Tensor(out, [ids.length, ...x.shape.slice(1)]), 'indexSelect', [x], (g, into) => {
    // Scatter-add straight into x's accumulated gradient: MoE dispatch selects each token's rows
    // once per expert, and a full-size gradient per expert would cost E allocations and E adds.
    const gx = into(0);
    if (ids.length * 4 >= N) {
      // many rows (an MoE's whole dispatch): one scatter-add kernel call, SIMD on the wasm
      // backend; the same f32 additions in the same order as the loop below
      runKernel('scatterAddRows', { src: [g], index: ids, coef: null, alpha: 1, out: gx, cols: row });
      return [null];
    }
    for (let i = 0; i < ids.length; i++) {
      const o = ids[i]! * row;
      for (let c = 0; c < row; c++) gx[o + c]! += g[i * row + c]!;
    }
    return [null];
  });
}

/** out [N, ...] = base (or zeros) with src rows [M, ...] added at rows idx [M]. */
export function indexAdd(n: number | Tensor, idx: Tensor, src: Tensor): Tensor {
  assertFloat('indexAdd', src);
  const ids = idx.i32('indexAdd');
  const base = typeof n === 'number' ? null : n;
  const N = base ? base.shape[0]! : (n as number);
  const rowShape = src.shape.slice(1);
  const row = shapeSize(rowShape);
  if (src.shape[0] !== ids.length) throw new ShapeError('indexAdd', `src ${fmtShape(src.shape)} must have one row per index (${ids.length})`);
  if (base && (base.rank !== src.rank || base.shape.slice(1).some((d, i) => d !== rowShape[i]))) {
    throw new ShapeError('indexAdd', `base ${fmtShape(base.shape)} and src ${fmtShape(src.shape)} rows differ`);
  }
  const out = base ? Float32Array.from(base.f32('indexAdd')) : new Float32Array(N * row);
  const s = src.f32();
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i]!;
    if (r < 0 || r >= N) throw new IndexError('indexAdd', `index ${r} at ${i} is out of range [0, ${N})`);
    const o = r * row;
    for (let c = 0; c < row; c++) out[o + c]! += s[i * row + c]!;
  }
  const inputs = base ? [src, base] : [src];
  return record(new Tensor(out, [N, ...rowShape]), 'indexAdd', inputs, (g) => {
    const gs = new Float32Array(src.size);
    for (let i = 0; i < ids.length; i++) gs.set(g.subarray(ids[i]! * row, ids[i]! * row + row), i * row);
    return base ? [gs, g] : [gs];
  });
}

/** x [..., C] gathered at idx [..., k] along the last axis → [..., k]. */
export function gatherLast(x: Tensor, idx: Tensor): Tensor {
  assertFloat('gatherLast', x);
  const ids = idx.i32('gatherLast');
  const C = x.shape[x.rank - 1]!;
  const k = idx.shape[idx.rank - 1]!;
  const rows = x.size / C;
  if (idx.rank !== x.rank || ids.length !== rows * k) throw new ShapeError('gatherLast', `index ${fmtShape(idx.shape)} does not match input ${fmtShape(x.shape)}`);
  const xd = x.f32();
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) {
    const c = ids[r * k + j]!;
    if (c < 0 || c >= C) throw new IndexError('gatherLast', `index ${c} at row ${r} is out of range [0, ${C})`);
    out[r * k + j] = xd[r * C + c]!;
  }
  return record(new Tensor(out, idx.shape), 'gatherLast', [x], (g) => {
    const gx = new Float32Array(x.size);
    for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) gx[r * C + ids[r * k + j]!]! += g[r * k + j]!;
    return [gx];
  });
}
