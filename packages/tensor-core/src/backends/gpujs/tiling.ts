/**
 * Chunk planning for the gpu.js backend. gpu.js's webasm backend computes array indices in f32
 * (measured: a 4096×11008 matmul reads wrong values), and f32 represents every integer only up to
 * 2^24. So every array handed to one kernel call, and every output, stays at or below
 * `limit` = 2^24 elements; larger operands are split into tiles whose partial K products are
 * summed on the host.
 */

/** Largest element count of any one kernel argument or output (f32 integers are exact to 2^24). */
export const GPUJS_MAX_KERNEL_ELEMENTS = 1 << 24;

/** Split `total` into `parts` contiguous pieces whose sizes differ by at most one (≤ 2 shapes). */
export function splitEven(total: number, parts: number): { start: number; size: number }[] {
  const base = Math.floor(total / parts);
  const extra = total % parts;
  const out: { start: number; size: number }[] = [];
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const size = base + (p < extra ? 1 : 0);
    if (size === 0) continue;
    out.push({ start, size });
    start += size;
  }
  return out;
}

/** Split `total` into the fewest even pieces of at most `max` each. */
export function chunkEven(total: number, max: number): { start: number; size: number }[] {
  if (total <= 0) return [];
  return splitEven(total, Math.ceil(total / Math.max(1, max)));
}

export interface MatmulTile {
  m0: number;
  mc: number;
  n0: number;
  nc: number;
  k0: number;
  kc: number;
}

/**
 * Tiles covering an M×N output with a K-long reduction so that the A tile (mc·kc), the B tile
 * (kc·nc) and the output tile (mc·nc) each hold ≤ `limit` elements. Order: N outer, then M, then K
 * innermost, so the K pieces of one output tile are consecutive (accumulated on the host) and a
 * packed B tile is reused across the M tiles when K is not split.
 */
export function planMatmulTiles(m: number, n: number, k: number, limit = GPUJS_MAX_KERNEL_ELEMENTS): MatmulTile[] {
  if (m <= 0 || n <= 0 || k <= 0) return [];
  const kChunks = chunkEven(k, limit);
  const kcMax = kChunks[0]!.size;
  let mcMax = Math.min(m, Math.max(1, Math.floor(limit / kcMax)));
  const ncMax = Math.min(n, Math.max(1, Math.floor(limit / kcMax)));
  if (mcMax * ncMax > limit) mcMax = Math.max(1, Math.floor(limit / ncMax));
  const tiles: MatmulTile[] = [];
  for (const nt of chunkEven(n, ncMax)) {
    for (const mt of chunkEven(m, mcMax)) {
      for (const kt of kChunks) {
        tiles.push({ m0: mt.start, mc: mt.size, n0: nt.start, nc: nt.size, k0: kt.start, kc: kt.size });
      }
    }
  }
  return tiles;
}

/**
 * The block rows [r0, r0+nr) × cols [c0, c0+nc) of a row-major `rows`×`cols` matrix starting at
 * `offset` in `src`, as a contiguous [nr, nc] array. Whole-width blocks are zero-copy views;
 * otherwise the block is copied into `scratch` (grown when too small) and a view of it returned.
 */
export function packBlock(
  src: Float32Array,
  offset: number,
  cols: number,
  r0: number,
  nr: number,
  c0: number,
  nc: number,
  scratch: { buf: Float32Array },
): Float32Array {
  if (c0 === 0 && nc === cols) return src.subarray(offset + r0 * cols, offset + (r0 + nr) * cols);
  if (scratch.buf.length < nr * nc) scratch.buf = new Float32Array(nr * nc);
  /** [nr, nc] */
  const dst = scratch.buf.subarray(0, nr * nc);
  for (let r = 0; r < nr; r++) {
    const s = offset + (r0 + r) * cols + c0;
    dst.set(src.subarray(s, s + nc), r * nc);
  }
  return dst;
}
