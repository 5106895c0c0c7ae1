/** cpu/takeCols (see TakeColsArgs): the gather on integer views, so every element is copied bit for bit. */
import type { TakeColsArgs } from '../../registry.js';

/** The checks every takeCols backend makes, with the same messages. */
export function checkTakeColsArgs({ src, rows, cols, parts }: Pick<TakeColsArgs, 'src' | 'rows' | 'cols' | 'parts'>): void {
  if (src.length < rows * cols) throw new RangeError(`takeCols: source holds ${src.length} elements, [${rows}, ${cols}] needs ${rows * cols}`);
  parts.forEach((idx, j) => {
    for (let i = 0; i < idx.length; i++) {
      const c = idx[i]!;
      if (!(c >= 0 && c < cols && Number.isInteger(c))) throw new RangeError(`takeCols: part ${j} column ${c} is outside [0, ${cols})`);
    }
  });
}

/** 32-bit elements as Uint32 (a Float32Array element read into a JS number may have a signalling NaN quietened). */
function bits(a: Float32Array | Uint16Array): Uint16Array | Uint32Array {
  return a instanceof Uint16Array ? a : new Uint32Array(a.buffer, a.byteOffset, a.length);
}

export function takeColsCpu(args: TakeColsArgs): void {
  checkTakeColsArgs(args);
  const { rows, cols, parts } = args;
  const src = bits(args.src);
  const idxs = parts.map((idx) => Int32Array.from(idx));
  const outs = args.outs.map(bits);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < idxs.length; j++) {
      const idx = idxs[j]!;
      const out = outs[j]!;
      const n = idx.length;
      const w = r * n;
      for (let i = 0; i < n; i++) out[w + i] = src[o + idx[i]!]!;
    }
  }
}
