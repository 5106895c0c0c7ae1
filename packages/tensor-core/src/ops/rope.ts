/**
 * Rotary position embedding in the Hugging Face `rotate_half` layout: for head dim d, element i
 * pairs with i + d/2 (not interleaved pairs as in Meta's original code). inv_freq follows
 * transformers' ROPE_INIT_FUNCTIONS for `default`, `linear` and `llama3` scaling.
 */
import { gradBuffer, record } from '../autograd.js';
import { IndexError, ShapeError, TensorError, fmtShape } from '../errors.js';
import { Tensor, assertFloat } from '../tensor.js';

export type RopeScaling =
  | null
  | { rope_type: 'default' }
  | { rope_type: 'linear'; factor: number }
  | { rope_type: 'llama3'; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number };

export interface RopeConfig {
  headDim: number;
  theta: number;
  scaling?: RopeScaling | undefined;
  /** Rotary dims (≤ headDim, even); defaults to headDim (partial_rotary_factor 1). */
  rotaryDim?: number;
}

/** inv_freq [rotaryDim/2], computed like transformers (f32 arithmetic on the exponent, as torch does). */
export function ropeInvFreq(cfg: RopeConfig): Float64Array {
  const dim = cfg.rotaryDim ?? cfg.headDim;
  if (dim % 2 !== 0 || dim <= 0) throw new TensorError('argument', 'rope', `rotary dim must be a positive even number, got ${dim}`);
  const half = dim / 2;
  const inv = new Float64Array(half);
  // transformers: 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)) — all in float32.
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / Math.fround(Math.pow(cfg.theta, Math.fround((2 * i) / dim))));
  const s = cfg.scaling;
  if (!s || s.rope_type === 'default') return inv;
  if (s.rope_type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = Math.fround(inv[i]! / s.factor);
    return inv;
  }
  if (s.rope_type === 'llama3') {
    const { factor, low_freq_factor: lo, high_freq_factor: hi, original_max_position_embeddings: old } = s;
    const lowWavelen = old / lo;
    const highWavelen = old / hi;
    for (let i = 0; i < half; i++) {
      const f = inv[i]!;
      const wavelen = (2 * Math.PI) / f;
      let out = wavelen > lowWavelen ? f / factor : f;
      const smooth = (old / wavelen - lo) / (hi - lo);
      const isMedium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
      if (isMedium) out = (1 - smooth) * (out / factor) + smooth * out;
      inv[i] = Math.fround(out);
    }
    return inv;
  }
  throw new TensorError('argument', 'rope', `unsupported rope_scaling type '${(s as { rope_type: string }).rope_type}'`);
}

/** Precomputed cos/sin tables [maxPos, rotaryDim/2]. */
export class RopeTables {
  readonly half: number;
  /** [maxPos, half] */
  readonly cos: Float32Array;
  /** [maxPos, half] */
  readonly sin: Float32Array;
  constructor(readonly cfg: RopeConfig, readonly maxPos: number) {
    const inv = ropeInvFreq(cfg);
    this.half = inv.length;
    this.cos = new Float32Array(maxPos * this.half);
    this.sin = new Float32Array(maxPos * this.half);
    for (let p = 0; p < maxPos; p++) {
      for (let i = 0; i < this.half; i++) {
        // transformers multiplies inv_freq by position in float32, then takes cos/sin.
        const ang = Math.fround(inv[i]! * p);
        this.cos[p * this.half + i] = Math.cos(ang);
        this.sin[p * this.half + i] = Math.sin(ang);
      }
    }
  }
}

function apply(src: Float32Array, dst: Float32Array, pos: Int32Array, t: RopeTables, rows: number, heads: number, hd: number, sign: 1 | -1): void {
  const half = t.half;
  for (let r = 0; r < rows; r++) {
    const p = pos[r % pos.length]!;
    const co = p * half;
    for (let h = 0; h < heads; h++) {
      const o = (r * heads + h) * hd;
      for (let i = 0; i < half; i++) {
        const c = t.cos[co + i]!;
        const s = t.sin[co + i]! * sign;
        const x1 = src[o + i]!;
        const x2 = src[o + i + half]!;
        dst[o + i] = x1 * c - x2 * s;
        dst[o + i + half] = x2 * c + x1 * s;
      }
      // Partial rotary: dims past 2·half pass through.
      for (let i = 2 * half; i < hd; i++) dst[o + i] = src[o + i]!;
    }
  }
}

/**
 * x [..., T, heads·headDim] rotated by positions [T] (int32). Rows are the flattened leading dims;
 * row r uses positions[r mod T], so a batch [B, T, H·hd] shares one position vector.
 */
export function rope(x: Tensor, positions: Tensor, tables: RopeTables, heads: number): Tensor {
  assertFloat('rope', x);
  const pos = positions.i32('rope');
  const hd = tables.cfg.headDim;
  const width = x.shape[x.rank - 1]!;
  if (width !== heads * hd) throw new ShapeError('rope', `last dim of ${fmtShape(x.shape)} must be heads·headDim = ${heads}·${hd}`);
  const rows = x.size / width;
  const T = x.rank >= 2 ? x.shape[x.rank - 2]! : 1;
  if (pos.length !== T) throw new ShapeError('rope', `positions ${fmtShape(positions.shape)} must have length T = ${T} for input ${fmtShape(x.shape)}`);
  for (let i = 0; i < pos.length; i++) {
    if (pos[i]! < 0 || pos[i]! >= tables.maxPos) throw new IndexError('rope', `position ${pos[i]} is outside the table [0, ${tables.maxPos}); raise max_position_embeddings`);
  }
  const out = gradBuffer(x.size);
  apply(x.f32(), out, pos, tables, rows, heads, hd, 1);
  return record(new Tensor(out, x.shape), 'rope', [x], (g) => {
    const gx = gradBuffer(x.size);
    apply(g, gx, pos, tables, rows, heads, hd, -1); // the inverse rotation is the transpose
    return [gx];
  });
}
