import { DataError, WeightError } from './errors.js';
import { LLAMA2_7B_REFERENCE_LOSS, resolveWeights, type DomainWeights, type WeightPreset } from './weights.js';

/**
 * Dynamic domain weights, updated from per-domain losses every N trainer steps.
 *
 * - `sheared_llama` (Sheared-LLaMA dynamic batch loading, update_type "doremi"):
 *     w' = softmax(log w + η·(L − L_ref)),  w = (1 − c)·w' + c/K,  then renormalised.
 *   Defaults η = 1, c = 1e-4: the constants hard-coded in Sheared-LLaMA's callback and copied
 *   into LLaMA-MoE's `update_weight_sheared_llama` (c "following DoReMi").
 * - `llama_moe` (LLaMA-MoE's `update_weight_sheared_llama_paper`, the paper's reading of the rule):
 *     w ∝ w·exp(max(0, L − L_ref)), normalised. Domains already at or below their reference keep
 *     their relative weight; only lagging domains gain.
 * Both move weight toward domains whose loss exceeds the reference.
 */
export type DynamicRule = 'sheared_llama' | 'llama_moe';

export interface DynamicWeightOptions {
  rule: DynamicRule;
  /** Per-domain reference losses. Default: LLaMA-2-7B on SlimPajama (LLAMA2_7B_REFERENCE_LOSS). */
  referenceLoss?: DomainWeights;
  /** Step size η (sheared_llama only). Default 1. */
  eta?: number;
  /** Uniform smoothing c (sheared_llama only). Default 1e-4. */
  c?: number;
}

/** Plain-JSON state of the updater. */
export interface DynamicWeightState {
  rule: DynamicRule;
  domains: string[];
  referenceLoss: DomainWeights;
  eta: number;
  c: number;
  weights: DomainWeights;
  updates: number;
}

function checkLosses(what: string, loss: Record<string, number>, domains: readonly string[], fix: string): void {
  if (!loss || typeof loss !== 'object') throw new DataError('argument', `${what}: expected a {domain: loss} map`);
  for (const d of domains) {
    const v = loss[d];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new WeightError('domain', d, `${what}: domain "${d}" has loss ${String(v)}; ${fix}`);
    }
  }
  for (const k of Object.keys(loss)) {
    if (!domains.includes(k)) throw new WeightError('domain', k, `${what}: domain "${k}" is not among the sampler's domains (${domains.join(', ')})`);
  }
}

/** One update of `rule`; pure, so tests and callers can apply it outside a sampler. */
export function applyDynamicRule(
  rule: DynamicRule,
  weights: DomainWeights,
  loss: DomainWeights,
  ref: DomainWeights,
  domains: readonly string[],
  eta = 1,
  c = 1e-4,
): DomainWeights {
  const K = domains.length;
  /** [K] */
  const out = new Float64Array(K);
  if (rule === 'sheared_llama') {
    /** [K] logits log w + η·(L − L_ref); log 0 = -Infinity keeps a zero-weight domain at the c/K floor. */
    const z = domains.map((d) => Math.log(weights[d]!) + eta * (loss[d]! - ref[d]!));
    const m = Math.max(...z.filter((x) => x !== -Infinity));
    let s = 0;
    for (let i = 0; i < K; i++) s += out[i] = z[i] === -Infinity ? 0 : Math.exp(z[i]! - m);
    for (let i = 0; i < K; i++) out[i] = (1 - c) * (out[i]! / s) + c / K;
  } else if (rule === 'llama_moe') {
    for (let i = 0; i < K; i++) {
      const d = domains[i]!;
      out[i] = weights[d]! * Math.exp(Math.max(0, loss[d]! - ref[d]!));
    }
  } else {
    throw new DataError('argument', `dynamic.rule: unknown rule "${String(rule)}"; use 'sheared_llama' or 'llama_moe'`);
  }
  let total = 0;
  for (let i = 0; i < K; i++) total += out[i]!;
  return Object.fromEntries(domains.map((d, i) => [d, out[i]! / total]));
}

export class DynamicWeights {
  private s: DynamicWeightState;

  constructor(initial: WeightPreset | DomainWeights, domains: readonly string[], opts: DynamicWeightOptions) {
    if (opts.rule !== 'sheared_llama' && opts.rule !== 'llama_moe') {
      throw new DataError('argument', `dynamic.rule: unknown rule "${String(opts.rule)}"; use 'sheared_llama' or 'llama_moe'`);
    }
    const eta = opts.eta ?? 1;
    const c = opts.c ?? 1e-4;
    if (!(eta > 0) || !Number.isFinite(eta)) throw new DataError('argument', `dynamic.eta: must be a positive number, got ${eta}`);
    if (!(c >= 0 && c < 1)) throw new DataError('argument', `dynamic.c: must be in [0, 1), got ${c}`);
    const refAll = opts.referenceLoss ?? LLAMA2_7B_REFERENCE_LOSS;
    const referenceLoss: DomainWeights = {};
    for (const d of domains) {
      const v = refAll[d];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new WeightError('domain', d, `dynamic.referenceLoss: no reference loss for domain "${d}"; pass referenceLoss with an entry for every domain`);
      }
      referenceLoss[d] = v;
    }
    this.s = { rule: opts.rule, domains: [...domains], referenceLoss, eta, c, weights: resolveWeights(initial, domains), updates: 0 };
  }

  static fromState(state: DynamicWeightState): DynamicWeights {
    const dw = new DynamicWeights(state.weights, state.domains, { rule: state.rule, referenceLoss: state.referenceLoss, eta: state.eta, c: state.c });
    dw.s.updates = state.updates;
    // Restore bit-exact weights (resolveWeights returns the same numbers, but be explicit).
    dw.s.weights = { ...state.weights };
    return dw;
  }

  get weights(): DomainWeights {
    return { ...this.s.weights };
  }

  get updates(): number {
    return this.s.updates;
  }

  /** Applies the rule to the latest per-domain losses (every domain required) and returns the new weights. */
  update(perDomainLoss: Record<string, number>): DomainWeights {
    checkLosses('update', perDomainLoss, this.s.domains, 'pass a finite loss for every domain');
    this.s.weights = applyDynamicRule(this.s.rule, this.s.weights, perDomainLoss, this.s.referenceLoss, this.s.domains, this.s.eta, this.s.c);
    this.s.updates++;
    return this.weights;
  }

  state(): DynamicWeightState {
    return JSON.parse(JSON.stringify(this.s)) as DynamicWeightState;
  }
}
