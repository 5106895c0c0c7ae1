import { DomainStream, type DomainStreamState } from './domain-stream.js';
import { DynamicWeights, type DynamicWeightOptions, type DynamicWeightState } from './dynamic.js';
import { DataError, WeightError } from './errors.js';
import { checkPackOptions, type RemainderPolicy } from './pack.js';
import { Rng, type RngState } from './rng.js';
import { validateSamplerState } from './sampler-state.js';
import { checkSource, sourceUnits, type DomainSource } from './source.js';
import { tokenizerHash, type Tokenizer } from './tokenizer.js';
import { resolveWeights, weightVector, type DomainWeights, type WeightPreset } from './weights.js';

export interface SamplerOptions {
  sources: DomainSource[];
  /** Required unless every source is pre-tokenised (format 'tokens'). */
  tokenizer?: Tokenizer;
  seqLen: number;
  /** Fixes the whole stream. Default 0. */
  seed?: number | string;
  /** Preset or {domain: weight}. Default 'uniform'. */
  weights?: WeightPreset | DomainWeights;
  /** Rescale weights that do not sum to 1 instead of throwing. */
  normalizeWeights?: boolean;
  /** Dynamic weights updated through `update(perDomainLoss)`. */
  dynamic?: DynamicWeightOptions;
  addBos?: boolean;
  addEos?: boolean;
  remainder?: RemainderPolicy;
  padId?: number;
  /** Documents per domain shuffle buffer (LLaMA-MoE: 200). */
  shuffleBuffer?: number;
  shuffleFiles?: boolean;
}

/** The JSON-able part of the options, stored in the state so a resume cannot drift. */
export interface SamplerConfig {
  seqLen: number;
  seed: number | string;
  addBos: boolean;
  addEos: boolean;
  remainder: RemainderPolicy;
  padId: number;
  shuffleBuffer: number;
  shuffleFiles: boolean;
  tokenizerHash: string | null;
  domains: string[];
  /** Per domain: its files (or '#documents' plus count) so a resume against other data fails loudly. */
  units: Record<string, string[]>;
}

export interface SamplerState {
  version: 1;
  config: SamplerConfig;
  rng: RngState;
  /** Batches served so far. */
  step: number;
  /** Blocks served so far. */
  samples: number;
  weights: DomainWeights;
  dynamic: DynamicWeightState | null;
  domains: DomainStreamState[];
}

export interface Batch {
  /** [B, T] row-major token ids (padded rows filled with padId). */
  inputIds: Int32Array;
  batchSize: number;
  seqLen: number;
  /** [B] domain of each row. */
  domains: string[];
  /** [B, T] 1 = real token, 0 = padding; present when the remainder policy can pad ('pad' | 'keep'). */
  lossMask?: Uint8Array;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unitsOf(s: DomainSource): string[] {
  const u = sourceUnits(s);
  return s.documents ? [`${u[0]}:${s.documents.length}`] : u;
}

/**
 * Multi-domain sampler: each row of a batch picks a domain by the current weights (seeded RNG)
 * and takes that domain's next packed block. Deterministic for a seed and exactly resumable:
 * `state()` is plain JSON and `MultiDomainSampler.resume(state, inputs)` continues the very same
 * stream an uninterrupted run would produce.
 */
export class MultiDomainSampler {
  readonly config: SamplerConfig;
  private readonly streams: DomainStream[];
  private rng: Rng;
  private weightsNow: DomainWeights;
  private dyn: DynamicWeights | null;
  private step = 0;
  private samples = 0;
  private busy = false;

  constructor(opts: SamplerOptions, resumeFrom?: SamplerState) {
    if (!opts || !Array.isArray(opts.sources) || opts.sources.length === 0) {
      throw new WeightError('domain', undefined, 'sources: no domains given; pass at least one {name, files | documents}');
    }
    for (const s of opts.sources) checkSource(s);
    const names = opts.sources.map((s) => s.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new DataError('argument', `sources: domain "${dup}" is listed twice`);
    const pack = checkPackOptions(opts);
    const needsTok = opts.sources.some((s) => s.format !== 'tokens');
    if (needsTok && !opts.tokenizer) throw new DataError('argument', 'tokenizer: required for text sources (pass any {encode, bosTokenId, eosTokenId})');
    this.config = {
      seqLen: pack.seqLen,
      seed: opts.seed ?? 0,
      addBos: pack.addBos,
      addEos: pack.addEos,
      remainder: pack.remainder,
      padId: pack.padId,
      shuffleBuffer: opts.shuffleBuffer ?? 200,
      shuffleFiles: opts.shuffleFiles ?? true,
      tokenizerHash: opts.tokenizer ? tokenizerHash(opts.tokenizer) : null,
      domains: names,
      units: Object.fromEntries(opts.sources.map((s) => [s.name, unitsOf(s)])),
    };
    const streamOpts = { ...pack, tokenizer: opts.tokenizer, shuffleBuffer: this.config.shuffleBuffer, shuffleFiles: this.config.shuffleFiles, seed: this.config.seed };
    if (resumeFrom) {
      this.streams = opts.sources.map((s, i) => new DomainStream(s, streamOpts, resumeFrom.domains[i]));
      this.rng = Rng.fromState(resumeFrom.rng);
      this.weightsNow = { ...resumeFrom.weights };
      this.dyn = resumeFrom.dynamic ? DynamicWeights.fromState(resumeFrom.dynamic) : null;
      this.step = resumeFrom.step;
      this.samples = resumeFrom.samples;
    } else {
      this.streams = opts.sources.map((s) => new DomainStream(s, streamOpts));
      this.rng = Rng.seeded(this.config.seed, 'sampler');
      this.weightsNow = resolveWeights(opts.weights ?? 'uniform', names, { normalize: opts.normalizeWeights });
      this.dyn = opts.dynamic ? new DynamicWeights(this.weightsNow, names, opts.dynamic) : null;
    }
  }

  /**
   * Continues a saved stream. `inputs` supplies what JSON cannot hold (sources, tokenizer);
   * they must match the state: same domains, same files, same tokenizer fingerprint.
   */
  static resume(state: SamplerState, inputs: { sources: DomainSource[]; tokenizer?: Tokenizer }): MultiDomainSampler {
    if (!isObject(state) || state.version !== 1 || !isObject(state.config)) throw new DataError('state', 'resume: not a MultiDomainSampler state (expected version 1); pass the object from sampler.state()');
    // Every field is checked before use: the state comes from JSON on disk and a damaged number
    // (seqLen, a buffer, an RNG word) must fail here, not as a TypeError or a giant allocation later.
    validateSamplerState(state);
    if (!inputs || !Array.isArray(inputs.sources) || inputs.sources.length === 0) {
      throw new WeightError('domain', undefined, 'resume: inputs.sources is empty; pass the same sources the state was saved with');
    }
    for (const s of inputs.sources) checkSource(s);
    const c = state.config;
    const names = inputs.sources.map((s) => s.name);
    if (names.join('\u0000') !== c.domains.join('\u0000')) {
      throw new DataError('state', `resume: state has domains [${c.domains.join(', ')}], sources have [${names.join(', ')}]; pass the same sources in the same order`);
    }
    for (const s of inputs.sources) {
      const want = c.units[s.name] ?? [];
      const got = unitsOf(s);
      if (want.join('\u0000') !== got.join('\u0000')) {
        throw new DataError('state', `resume: domain "${s.name}" files differ from the saved state (saved ${want.length}, given ${got.length}); resume against the same files`);
      }
    }
    const hash = inputs.tokenizer ? tokenizerHash(inputs.tokenizer) : null;
    if (c.tokenizerHash !== null && hash !== c.tokenizerHash) {
      throw new DataError('state', `resume: tokenizer fingerprint ${String(hash)} differs from the saved ${c.tokenizerHash}; resume with the same tokenizer`);
    }
    if (state.domains.length !== names.length) throw new DataError('state', `resume: state holds ${state.domains.length} domain streams for ${names.length} domains`);
    return new MultiDomainSampler(
      {
        sources: inputs.sources,
        tokenizer: inputs.tokenizer,
        seqLen: c.seqLen,
        seed: c.seed,
        addBos: c.addBos,
        addEos: c.addEos,
        remainder: c.remainder,
        padId: c.padId,
        shuffleBuffer: c.shuffleBuffer,
        shuffleFiles: c.shuffleFiles,
      },
      state,
    );
  }

  get domains(): string[] {
    return [...this.config.domains];
  }

  /** Current sampling weights. */
  get weights(): DomainWeights {
    return { ...this.weightsNow };
  }

  /** Batches served so far. */
  get steps(): number {
    return this.step;
  }

  /** Replaces the weights (validated like the constructor's). Also resets a dynamic updater's base. */
  setWeights(w: WeightPreset | DomainWeights, opts: { normalize?: boolean } = {}): void {
    this.weightsNow = resolveWeights(w, this.config.domains, opts);
    if (this.dyn) {
      const s = this.dyn.state();
      this.dyn = DynamicWeights.fromState({ ...s, weights: this.weightsNow });
    }
  }

  /** Dynamic weights: feed the latest per-domain losses (trainer calls this every N steps). */
  update(perDomainLoss: Record<string, number>): DomainWeights {
    if (!this.dyn) throw new DataError('argument', 'update: this sampler has static weights; construct it with dynamic: {rule: "sheared_llama" | "llama_moe"}');
    this.weightsNow = this.dyn.update(perDomainLoss);
    return this.weights;
  }

  /** One packed block from a domain drawn by the current weights. */
  async next(): Promise<{ inputIds: Int32Array; domain: string; lossMask?: Uint8Array }> {
    this.enter();
    try {
      return await this.draw();
    } finally {
      this.busy = false;
    }
  }

  private enter(): void {
    if (this.busy) throw new DataError('argument', 'MultiDomainSampler: a next()/nextBatch() call is still running; await it before the next one');
    this.busy = true;
  }

  private async draw(): Promise<{ inputIds: Int32Array; domain: string; lossMask?: Uint8Array }> {
    const v = weightVector(this.weightsNow, this.config.domains);
    const d = this.rng.categorical(v);
    const b = await this.streams[d]!.nextBlock();
    this.samples++;
    return { inputIds: b!.inputIds, domain: this.config.domains[d]!, lossMask: b!.lossMask };
  }

  /** `batchSize` rows of seqLen tokens. Short ('keep') and padded rows are padded with padId and masked. */
  async nextBatch(batchSize: number): Promise<Batch> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new DataError('argument', `nextBatch: batchSize must be a positive integer, got ${batchSize}`);
    this.enter();
    try {
      const T = this.config.seqLen;
      /** [B, T] */
      const inputIds = new Int32Array(batchSize * T).fill(this.config.padId);
      /** [B, T] */
      const lossMask = this.config.remainder === 'drop' ? undefined : new Uint8Array(batchSize * T);
      const domains: string[] = [];
      for (let b = 0; b < batchSize; b++) {
        const r = await this.draw();
        inputIds.set(r.inputIds, b * T);
        if (lossMask) {
          if (r.lossMask) lossMask.set(r.lossMask, b * T);
          else lossMask.fill(1, b * T, b * T + r.inputIds.length);
        }
        domains.push(r.domain);
      }
      this.step++;
      return lossMask ? { inputIds, batchSize, seqLen: T, domains, lossMask } : { inputIds, batchSize, seqLen: T, domains };
    } finally {
      this.busy = false;
    }
  }

  /** Per-domain counters (documents / tokens read, blocks served, current epoch). */
  stats(): Record<string, { documents: number; tokens: number; blocks: number; epoch: number }> {
    return Object.fromEntries(this.streams.map((s) => [s.name, s.stats()]));
  }

  /** Plain-JSON snapshot; take it between calls (not while a nextBatch is awaiting). */
  state(): SamplerState {
    if (this.busy) throw new DataError('state', 'state: a next()/nextBatch() call is running; await it first so the snapshot is consistent');
    return {
      version: 1,
      config: JSON.parse(JSON.stringify(this.config)) as SamplerConfig,
      rng: this.rng.state(),
      step: this.step,
      samples: this.samples,
      weights: { ...this.weightsNow },
      dynamic: this.dyn ? this.dyn.state() : null,
      domains: this.streams.map((s) => s.state()),
    };
  }

  /** Closes open files. */
  async close(): Promise<void> {
    for (const s of this.streams) await s.close();
  }
}
