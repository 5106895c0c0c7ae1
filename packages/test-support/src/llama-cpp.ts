/**
 * Test harness: run a GGUF in a real llama.cpp (node-llama-cpp 3.21.1's prebuilt CPU build, loaded
 * with `build: 'never'`, so nothing is compiled or downloaded) and read back what it computes.
 * node-llama-cpp is a dependency of this private package, imported lazily: nothing here loads unless a test calls it.
 *
 * llama.cpp exposes the next-token distribution as probabilities (softmax of the raw logits with
 * greedy sampling, all tokens kept); their logs equal the logits up to one constant per position,
 * so comparisons use centred values (x − mean x), which lose nothing of what sampling depends on.
 * The context uses an f32 KV cache and no flash attention (both round K/V to f16 otherwise).
 */
import type { Llama, LlamaContext, LlamaModel } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | null = null;

export async function getLlamaCpp(): Promise<Llama> {
  if (!llamaPromise) {
    llamaPromise = import('node-llama-cpp').then((m) => m.getLlama({ gpu: false, build: 'never', logLevel: m.LlamaLogLevel.error, progressLogs: false }));
  }
  return llamaPromise;
}

export interface LlamaCppRun {
  model: LlamaModel;
  /** Centred log-probabilities of the next token after each prefix of `ids` (one row per position). */
  logits(ids: readonly number[]): Promise<Float64Array[]>;
  /** `n` greedy tokens after `prompt`. */
  greedy(prompt: readonly number[], n: number): Promise<number[]>;
  /** llama.cpp's tokenisation of `text` (no BOS, special tokens as text). */
  tokenize(text: string): number[];
  dispose(): Promise<void>;
}

export async function openInLlamaCpp(path: string, opts: { contextSize?: number } = {}): Promise<LlamaCppRun> {
  const llama = await getLlamaCpp();
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const contextSize = opts.contextSize ?? 256;
  const newContext = (): Promise<LlamaContext> =>
    model.createContext({
      contextSize,
      batchSize: contextSize,
      threads: 1,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
  return {
    model,
    async logits(ids) {
      const ctx = await newContext();
      try {
        const seq = ctx.getSequence();
        const rows: Float64Array[] = [];
        for (const id of ids) {
          const gen = seq.evaluateWithMetadata([id as never], { probabilities: true }, { temperature: 0 });
          const r = await gen.next();
          await gen.return();
          if (r.done) throw new Error('llama.cpp produced no next-token distribution');
          const probs = r.value.probabilities;
          const n = Math.max(...probs.keys()) + 1;
          const row = new Float64Array(n);
          let mean = 0;
          for (let v = 0; v < n; v++) {
            row[v] = Math.log(probs.get(v as never) ?? 0);
            mean += row[v]! / n;
          }
          for (let v = 0; v < n; v++) row[v]! -= mean;
          rows.push(row);
        }
        return rows;
      } finally {
        await ctx.dispose();
      }
    },
    async greedy(prompt, n) {
      const ctx = await newContext();
      try {
        const seq = ctx.getSequence();
        const out: number[] = [];
        for await (const t of seq.evaluate(prompt as never[], { temperature: 0 })) {
          out.push(t as number);
          if (out.length >= n) break;
        }
        return out;
      } finally {
        await ctx.dispose();
      }
    },
    tokenize(text) {
      return model.tokenize(text, false) as number[];
    },
    async dispose() {
      await model.dispose();
    },
  };
}

/** Centre a row of logits (x − mean x) in float64. */
export function centred(row: ArrayLike<number>): Float64Array {
  let mean = 0;
  for (let i = 0; i < row.length; i++) mean += row[i]! / row.length;
  return Float64Array.from(row, (x) => x - mean);
}

/**
 * Compare the project's logits [T, V] with llama.cpp's centred log-probabilities: max |Δ| of the
 * centred values, max |logit|, and argmax agreement.
 */
export function compareLogits(ours: Float32Array, theirs: readonly Float64Array[], V: number): { maxDiff: number; maxAbs: number; argmaxAgree: number } {
  let maxDiff = 0, maxAbs = 0, agree = 0;
  theirs.forEach((row, t) => {
    const o = centred(ours.subarray(t * V, (t + 1) * V));
    let a = 0, b = 0;
    for (let v = 0; v < V; v++) {
      maxAbs = Math.max(maxAbs, Math.abs(ours[t * V + v]!));
      maxDiff = Math.max(maxDiff, Math.abs(o[v]! - (row[v] ?? -Infinity)));
      if (o[v]! > o[a]!) a = v;
      if ((row[v] ?? -Infinity) > (row[b] ?? -Infinity)) b = v;
    }
    if (a === b) agree++;
  });
  return { maxDiff, maxAbs, argmaxAgree: agree / theirs.length };
}
