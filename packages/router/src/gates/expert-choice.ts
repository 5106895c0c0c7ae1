/**
 * Expert-choice routing (Zhou et al. 2022, "Mixture-of-Experts with Expert Choice Routing"):
 * token-to-expert scores S = softmax over experts per token, and each expert takes its top-C
 * tokens by S[:, e], C = capacity_factor · T / E. Every expert is exactly full; a token may be
 * chosen by several experts or by none.
 */
import { RouterError, allocLike, rowsOf, type FloatArray } from '../errors.js';
import { buildExpertChoiceDispatch, type DispatchOptions, type DispatchPlan } from '../dispatch.js';
import { softmaxRows, softmaxRowsBackward } from '../math.js';

export interface ExpertChoiceOptions {
  /** c in C = max(1, floor(c · T / E)), capped at T; default 2 (the paper's EC-CF2). */
  capacity_factor?: number;
  /** Explicit per-expert capacity C (1..T), overriding capacity_factor. */
  capacity?: number;
  dropped_padding?: DispatchOptions['dropped_padding'];
  n_shared_experts?: DispatchOptions['n_shared_experts'];
  shared_expert_weights?: DispatchOptions['shared_expert_weights'];
}

export interface ExpertChoiceResult<A extends FloatArray = Float32Array> {
  numTokens: number;
  numExperts: number;
  /** C, tokens per expert. */
  capacity: number;
  /** [T, E] softmax over experts. */
  probs: A;
  /** Int32Array [E, C]: each expert's chosen tokens, in increasing token order. */
  tokenIndices: Int32Array;
  /** [E, C]: probs[token, e] of each choice, the combine weight. */
  weights: A;
  /** Int32Array [T]: experts that chose each token. */
  expertsPerToken: Int32Array;
  /** Tokens no expert chose. */
  tokensWithoutExpert: number;
  /** Dispatch plan (one block of C slots per expert). */
  plan: DispatchPlan<A>;
}

/** Max-heap order for the eviction candidate: lower score first, then higher token index. */
function worse(sa: number, ta: number, sb: number, tb: number): boolean {
  return sa < sb || (sa === sb && ta > tb);
}

/** Forward of expert-choice routing on logits `[T, E]`. */
export function expertChoiceGate<A extends FloatArray>(logits: A, numExperts: number, options: ExpertChoiceOptions = {}): ExpertChoiceResult<A> {
  const op = 'expertChoiceGate';
  const E = numExperts;
  const T = rowsOf(op, 'logits', logits, E);
  if (T === 0) throw new RouterError('shape', op, 'logits have no tokens; expert-choice needs T >= 1');
  let C: number;
  if (options.capacity !== undefined) {
    C = options.capacity;
    if (!Number.isInteger(C) || C < 1 || C > T) throw new RouterError('argument', op, `capacity must be an integer in [1, T=${T}], got ${C}`);
  } else {
    const cf = options.capacity_factor ?? 2;
    if (!(cf > 0) || !Number.isFinite(cf)) throw new RouterError('argument', op, `capacity_factor must be a finite number > 0, got ${cf}`);
    C = Math.min(T, Math.max(1, Math.floor((cf * T) / E)));
  }
  /** [T, E] */ const probs = allocLike(logits, T * E);
  softmaxRows(op, logits, T, E, probs);

  /** [E, C] */ const tokenIndices = new Int32Array(E * C);
  /** [E, C] */ const weights = allocLike(logits, E * C);
  /** [T] */ const expertsPerToken = new Int32Array(T);
  // One min-heap of size C (root = worst kept token) per expert, reused: O(T log C) per expert.
  /** [C] */ const heapTok = new Int32Array(C);
  /** [C] */ const heapVal = new Float64Array(C);
  for (let e = 0; e < E; e++) {
    let size = 0;
    for (let t = 0; t < T; t++) {
      const v = probs[t * E + e]!;
      if (size < C) {
        // Sift up.
        let i = size++;
        while (i > 0) {
          const p = (i - 1) >> 1;
          if (!worse(v, t, heapVal[p]!, heapTok[p]!)) break;
          heapVal[i] = heapVal[p]!;
          heapTok[i] = heapTok[p]!;
          i = p;
        }
        heapVal[i] = v;
        heapTok[i] = t;
      } else if (worse(heapVal[0]!, heapTok[0]!, v, t)) {
        // Replace the root and sift down.
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= C) break;
          const r = l + 1;
          const c = r < C && worse(heapVal[r]!, heapTok[r]!, heapVal[l]!, heapTok[l]!) ? r : l;
          if (!worse(heapVal[c]!, heapTok[c]!, v, t)) break;
          heapVal[i] = heapVal[c]!;
          heapTok[i] = heapTok[c]!;
          i = c;
        }
        heapVal[i] = v;
        heapTok[i] = t;
      }
    }
    // Emit the chosen tokens in increasing token order (stable dispatch order).
    const row = tokenIndices.subarray(e * C, (e + 1) * C);
    row.set(heapTok);
    row.sort();
    for (let c = 0; c < C; c++) {
      const t = row[c]!;
      weights[e * C + c] = probs[t * E + e]!;
      expertsPerToken[t]!++;
    }
  }
  let tokensWithoutExpert = 0;
  for (let t = 0; t < T; t++) if (expertsPerToken[t] === 0) tokensWithoutExpert++;
  const plan = buildExpertChoiceDispatch(tokenIndices, weights, T, E, {
    dropped_padding: options.dropped_padding,
    n_shared_experts: options.n_shared_experts,
    shared_expert_weights: options.shared_expert_weights,
  });
  return { numTokens: T, numExperts: E, capacity: C, probs, tokenIndices, weights, expertsPerToken, tokensWithoutExpert, plan };
}

/** Backward of `expertChoiceGate` to the logits, given dL/dweights `[E, C]` (e.g. from scatterSlotGrads). */
export function expertChoiceBackward<A extends FloatArray>(fwd: ExpertChoiceResult<A>, /** [E, C] */ dWeights: ArrayLike<number>): A {
  const { numTokens: T, numExperts: E, capacity: C } = fwd;
  if (dWeights.length !== E * C) {
    throw new RouterError('shape', 'expertChoiceBackward', `dWeights has ${dWeights.length} elements, expected [E=${E}, C=${C}]`);
  }
  /** [T, E] */ const dP = new Float64Array(T * E);
  for (let e = 0; e < E; e++) {
    for (let c = 0; c < C; c++) dP[fwd.tokenIndices[e * C + c]! * E + e]! += dWeights[e * C + c]!;
  }
  const out = allocLike(fwd.probs, T * E);
  softmaxRowsBackward(fwd.probs, dP, T, E, out);
  return out;
}
