import { WeightError } from './errors.js';

/** SlimPajama domain names, in the order LLaMA-MoE lists them. */
export const SLIMPAJAMA_DOMAINS = ['cc', 'c4', 'github', 'book', 'arxiv', 'wikipedia', 'stackexchange'] as const;
export type SlimPajamaDomain = (typeof SLIMPAJAMA_DOMAINS)[number];

export type DomainWeights = Record<string, number>;

/**
 * Static mixtures. `llama1`: the LLaMA-1 pre-training mixture; `sheared_llama`: the proportions
 * Sheared-LLaMA's dynamic batch loading converged to (both as listed in LLaMA-MoE's
 * smoe/data/dynamic_selection.py). `uniform` is computed for whatever domains the dataset has.
 */
export const WEIGHT_PRESETS: Readonly<Record<'llama1' | 'sheared_llama', Readonly<DomainWeights>>> = {
  llama1: { cc: 0.67, c4: 0.15, github: 0.045, wikipedia: 0.045, book: 0.045, arxiv: 0.025, stackexchange: 0.02 },
  sheared_llama: { cc: 0.361, c4: 0.492, github: 0.008, wikipedia: 0.031, book: 0.091, arxiv: 0.007, stackexchange: 0.01 },
};

export type WeightPreset = 'uniform' | keyof typeof WEIGHT_PRESETS;
export const WEIGHT_PRESET_NAMES: readonly WeightPreset[] = ['uniform', 'llama1', 'sheared_llama'];

/** Per-domain LLaMA-2-7B validation losses on SlimPajama (LLaMA-MoE paper / dynamic_selection.py). */
export const LLAMA2_7B_REFERENCE_LOSS: Readonly<DomainWeights> = {
  book: 1.9252,
  wikipedia: 1.5899,
  stackexchange: 1.4975,
  github: 0.6984,
  c4: 2.0749,
  cc: 1.6917,
  arxiv: 1.2408,
};

export const WEIGHT_SUM_TOLERANCE = 1e-6;

export interface ResolveWeightsOptions {
  /** Rescale weights that do not sum to 1 instead of throwing. Default false. */
  normalize?: boolean;
}

/**
 * Turns a preset name or explicit map into weights for exactly `domains` (in that order), with
 * clear errors: negative / NaN weights, a sum off 1 by more than 1e-6 (unless `normalize`),
 * names the dataset does not have, and dataset domains the weights leave out.
 */
export function resolveWeights(spec: WeightPreset | DomainWeights, domains: readonly string[], opts: ResolveWeightsOptions = {}): DomainWeights {
  if (domains.length === 0) throw new WeightError('domain', undefined, 'domains: the dataset has no domains; add at least one domain folder / source');
  let w: DomainWeights;
  if (typeof spec === 'string') {
    if (spec === 'uniform') {
      w = Object.fromEntries(domains.map((d) => [d, 1 / domains.length]));
    } else if (spec in WEIGHT_PRESETS) {
      w = { ...WEIGHT_PRESETS[spec as keyof typeof WEIGHT_PRESETS] };
    } else {
      throw new WeightError('weights', undefined, `weights: unknown preset "${spec}"; use one of ${WEIGHT_PRESET_NAMES.join(', ')} or an explicit {domain: weight} map`);
    }
  } else if (spec && typeof spec === 'object') {
    w = { ...spec };
  } else {
    throw new WeightError('weights', undefined, `weights: expected a preset name or a {domain: weight} map, got ${JSON.stringify(spec)}`);
  }
  const known = new Set(domains);
  for (const [name, v] of Object.entries(w)) {
    if (!known.has(name)) throw new WeightError('domain', name, `weights: domain "${name}" is not among the dataset's domains (${domains.join(', ')}); remove it or add its data`);
    if (typeof v !== 'number' || Number.isNaN(v)) throw new WeightError('weights', name, `weights: domain "${name}" has weight ${String(v)}; weights must be numbers`);
    if (v < 0) throw new WeightError('weights', name, `weights: domain "${name}" has negative weight ${v}; weights must be >= 0`);
    if (!Number.isFinite(v)) throw new WeightError('weights', name, `weights: domain "${name}" has infinite weight; weights must be finite`);
  }
  for (const d of domains) {
    if (!(d in w)) throw new WeightError('domain', d, `weights: dataset domain "${d}" has no weight; give it one (0 to exclude it)`);
  }
  const sum = domains.reduce((s, d) => s + w[d]!, 0);
  if (!(sum > 0)) throw new WeightError('weights', undefined, 'weights: all weights are zero; at least one domain needs a positive weight');
  if (Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) {
    if (!opts.normalize) {
      throw new WeightError('weights', undefined, `weights: sum to ${sum}, not 1 (tolerance ${WEIGHT_SUM_TOLERANCE}); fix them or pass normalize: true`);
    }
  }
  // Always return in dataset order; rescale exactly when asked (a 1e-7 drift is left alone otherwise).
  const scale = opts.normalize ? 1 / sum : 1;
  return Object.fromEntries(domains.map((d) => [d, w[d]! * scale]));
}

/** The weights as a probability vector in `domains` order. */
export function weightVector(w: DomainWeights, domains: readonly string[]): Float64Array {
  /** [K] */
  const v = new Float64Array(domains.length);
  domains.forEach((d, i) => (v[i] = w[d]!));
  return v;
}
