/**
 * Test fixtures: a tiny LLaMA config over the byte-level vocabulary (259 ids), in-memory domain
 * sources from the synthetic SlimPajama-like corpus, and a toy MoE FFN (noisy top-k gate from
 * @llama-moe/router, SwiGLU experts under LLaMA-MoE names) that pushes balance losses and routing
 * records like the real MoE layers, with a gate-noise RNG the trainer must checkpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, add as addT, createRng, indexAdd, indexSelect, indices, linear, mul, reshape, swiglu, type Rng, type RngState } from '@llama-moe/tensor-core';
import { NoisyTopKGate } from '@llama-moe/router/modules';
import { byteLevelTokenizer, generateCorpus, type DomainSource } from '@llama-moe/data-sampler';
import { LlamaForCausalLM, loadLlama, presetConfig, readParam, type ReadableCheckpoint, type FeedForward, type ForwardContext, type LlamaConfig } from '@llama-moe/llama-model/node';

export function tinyConfig(overrides: Record<string, unknown> = {}): LlamaConfig {
  return presetConfig('tiny', {
    vocab_size: 259, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 128, ...overrides,
  });
}

export function tinyModel(seed = 0, overrides: Record<string, unknown> = {}): LlamaForCausalLM {
  return LlamaForCausalLM.random(tinyConfig(overrides), { seed });
}

export const tokenizer = byteLevelTokenizer();

/** In-memory sources for `domains` (default three SlimPajama domains). */
export function corpusSources(opts: { seed?: number; docs?: number; domains?: ('wikipedia' | 'github' | 'arxiv' | 'cc' | 'c4' | 'book' | 'stackexchange')[] } = {}): DomainSource[] {
  const c = generateCorpus({ seed: opts.seed ?? 0, docsPerDomain: opts.docs ?? 40, domains: opts.domains ?? ['wikipedia', 'github', 'arxiv'] });
  return c.domains.map((d) => ({ name: d.name, documents: d.documents }));
}

const made: string[] = [];

/** A fresh temp folder; test files remove them all with `afterAll(removeTempDirs)`. */
export function tempDir(tag = 'trainer'): string {
  const d = mkdtempSync(join(tmpdir(), `llama-moe-${tag}-`));
  made.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

interface Expert {
  /** [s, D] */ gate: Tensor;
  /** [s, D] */ up: Tensor;
  /** [D, s] */ down: Tensor;
}

/** LLaMA-MoE-named toy MoE FFN: noisy top-k gate, E SwiGLU experts, balance loss in training. */
export class ToyMoeFfn implements FeedForward {
  readonly prefix = 'mlp';
  rng: Rng;
  constructor(public gate: NoisyTopKGate, public experts: Expert[], seed = 0) {
    this.rng = createRng(seed);
  }

  randomState(): RngState {
    return this.rng.state();
  }
  setRandomState(state: RngState): void {
    this.rng.setState(state);
  }

  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.gate.namedParameters()];
    this.experts.forEach((e, j) => out.push([`calculator.experts.weight_gate.${j}`, e.gate]));
    this.experts.forEach((e, j) => out.push([`calculator.experts.weight_up.${j}`, e.up]));
    this.experts.forEach((e, j) => out.push([`calculator.experts.weight_down.${j}`, e.down]));
    return out;
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const T = x.shape[0]!;
    const E = this.experts.length;
    const k = this.gate.topK;
    const g = this.gate.forward(x, { training: ctx.training, rng: this.rng });
    /** [T·k, 1] */
    const scores = reshape(g.scores, [T * k, 1]);
    let out: Tensor | null = null;
    const load = new Array<number>(E).fill(0);
    for (let e = 0; e < E; e++) {
      const slots: number[] = [];
      const toks: number[] = [];
      for (let i = 0; i < T * k; i++) if (g.topkIndices[i] === e) { slots.push(i); toks.push(Math.floor(i / k)); }
      load[e] = toks.length;
      if (!toks.length) continue;
      const ex = this.experts[e]!;
      const xe = indexSelect(x, indices(toks));
      const ye = mul(linear(swiglu(linear(xe, ex.gate), linear(xe, ex.up)), ex.down), indexSelect(scores, indices(slots)));
      const part = indexAdd(T, indices(toks), ye);
      out = out ? addT(out, part) : part;
    }
    if (g.auxLoss && ctx.training) ctx.auxLosses.push(g.auxLoss);
    if (ctx.collectStats) {
      ctx.records.push({ layer: ctx.layer, load, importance: Array.from(g.importance), topkIndices: Array.from(g.topkIndices), dropped: 0, tokenEntropy: 0, numTokens: T });
    }
    return out ?? new Tensor(new Float32Array(x.size), x.shape);
  }
}


const GATE_OPTS = { gateNetwork: 'mlp' as const, balanceLossWeight: 0.01, addNoise: true, noiseEpsilon: 0.01 };

/** A tiny model whose layers hold ToyMoeFfn (E experts, top-k). */
export function tinyMoeModel(seed = 0, E = 4, k = 2): LlamaForCausalLM {
  const cfg = tinyConfig();
  const m = LlamaForCausalLM.random(cfg, { seed });
  const rng = createRng(seed + 1000);
  const D = cfg.hidden_size, s = cfg.intermediate_size / E;
  const w = (shape: number[], std = 0.02) => {
    const d = new Float32Array(shape[0]! * shape[1]!);
    for (let i = 0; i < d.length; i++) d[i] = rng.normal() * std;
    return new Tensor(d, shape);
  };
  m.weights.layers.forEach((L, l) => {
    const gate = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: k, ...GATE_OPTS }, [w([E, D], 0.5), w([E, E], 0.5)]);
    L.mlp = new ToyMoeFfn(gate, Array.from({ length: E }, () => ({ gate: w([s, D]), up: w([s, D]), down: w([D, s]) })), l);
  });
  m.nameParameters();
  return m;
}

/** loadModel for tinyMoeModel checkpoints (E experts, top-k). */
export function loadTinyMoe(dir: string, E = 4, k = 2): LlamaForCausalLM {
  const ffnLoader = (layer: number, ckpt: ReadableCheckpoint, cfg: LlamaConfig): FeedForward => {
    const p = `model.layers.${layer}.mlp`;
    const D = cfg.hidden_size, s = cfg.intermediate_size / E;
    const gate = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: k, ...GATE_OPTS }, [readParam(ckpt, `${p}.gate.gate_network.0.weight`, [E, D]), readParam(ckpt, `${p}.gate.gate_network.2.weight`, [E, E])], readParam(ckpt, `${p}.gate.weight_noise.weight`, [E, D]));
    const experts = Array.from({ length: E }, (_, j) => ({
      gate: readParam(ckpt, `${p}.calculator.experts.weight_gate.${j}`, [s, D]),
      up: readParam(ckpt, `${p}.calculator.experts.weight_up.${j}`, [s, D]),
      down: readParam(ckpt, `${p}.calculator.experts.weight_down.${j}`, [D, s]),
    }));
    return new ToyMoeFfn(gate, experts, 999);
  };
  const m = loadLlama(dir, { ffnLoader, skipShapeCheck: true });
  m.nameParameters();
  return m;
}
