/**
 * Routing statistics of any MoE model on a packed dataset (`llama-moe routing`), per layer and
 * per domain: expert load, routing entropy, dropped tokens (capacity-limited gates), the overlap of
 * the domains' top-k experts, and with `dense` how often each expert's neurons were the most active
 * ones of the whole FFN (every expert evaluated on every token) — the paper's expert-specialisation
 * view, for a model that was not necessarily trained here.
 */
import { linear, noGrad, swiglu, indices, type Tensor } from '@llama-moe/tensor-core';
import { MoeFeedForward } from '@llama-moe/router/modules';
import { RoutingStatsAccumulator } from '@llama-moe/router';
import type { LlamaForCausalLM } from '@llama-moe/llama-model';

export interface DomainRouting {
  /** Token-to-expert assignments per expert (k per token, after capacity). */
  counts: number[];
  /** counts as fractions of all assignments. */
  load: number[];
  /** Mean per-token entropy of the routing probabilities (nats). */
  entropy: number;
  /** Tokens no expert processed (capacity-limited gates). */
  dropped: number;
  tokens: number;
  /** With dense: fraction of tokens whose most active neuron (largest |activation|) belongs to each expert. */
  dense?: number[];
}

export interface LayerRouting {
  layer: number;
  domains: Record<string, DomainRouting>;
  /** domain → domain → |top-k experts of A ∩ top-k experts of B| / k (top-k by load). */
  topkOverlap: Record<string, Record<string, number>>;
}

export interface RoutingReport {
  experts: number;
  topK: number;
  domains: { name: string; blocks: number; tokens: number }[];
  layers: LayerRouting[];
}

function topKOf(v: readonly number[], k: number): Set<number> {
  return new Set(v.map((x, i) => [x, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map(([, i]) => i));
}

/** Every expert on every token of `x` [N, D]: per token, the expert holding the largest |activation|. */
function mostActiveExpert(ffn: MoeFeedForward, x: Tensor): Int32Array {
  const N = x.shape[0]!;
  const best = new Float32Array(N).fill(-1);
  const who = new Int32Array(N);
  ffn.experts.forEach((e, j) => {
    const h = swiglu(linear(x, e.gate), linear(x, e.up)).f32();
    const s = e.gate.shape[0]!;
    for (let t = 0; t < N; t++) {
      for (let i = 0; i < s; i++) {
        const a = Math.abs(h[t * s + i]!);
        if (a > best[t]!) { best[t] = a; who[t] = j; }
      }
    }
  });
  return who;
}

export function routingStatistics(model: LlamaForCausalLM, validation: Record<string, Int32Array[]>, o: { batchSize: number; dense: boolean }): RoutingReport {
  const layers = model.weights.layers;
  const moe = layers.map((L) => (L.mlp instanceof MoeFeedForward ? L.mlp : null));
  const first = moe.find((m) => m !== null)!;
  const E = first.numExperts, k = first.topK;
  // Per layer and domain: running sums (router's accumulator), and with dense the most-active-expert counts.
  const stats = new RoutingStatsAccumulator(E);
  const denseCounts = layers.map(() => new Map<string, number[]>());
  const captured: (Tensor | null)[] = layers.map(() => null);
  const restore: (() => void)[] = [];
  if (o.dense) {
    moe.forEach((ffn, l) => {
      if (!ffn) return;
      const orig = ffn.forward;
      ffn.forward = (x, ctx) => {
        captured[l] = x;
        return orig.call(ffn, x, ctx);
      };
      restore.push(() => void (ffn.forward = orig));
    });
  }
  const domains: RoutingReport['domains'] = [];
  try {
    for (const [domain, blocks] of Object.entries(validation)) {
      let tokens = 0;
      for (let i = 0; i < blocks.length; i += o.batchSize) {
        const batch = blocks.slice(i, i + o.batchSize);
        const T = batch[0]!.length;
        const flat = new Int32Array(batch.length * T);
        batch.forEach((b, r) => flat.set(b, r * T));
        tokens += flat.length;
        noGrad(() => {
          const out = model.forward(indices(flat, [batch.length, T]), { collectStats: true });
          for (const rec of out.records) {
            stats.add(rec, rec.layer, domain);
            const x = captured[rec.layer];
            if (o.dense && x) {
              const dm = denseCounts[rec.layer]!;
              let dense = dm.get(domain);
              if (!dense) dm.set(domain, (dense = new Array<number>(E).fill(0)));
              for (const j of mostActiveExpert(moe[rec.layer]!, x)) dense[j]! += 1;
            }
          }
        });
        captured.fill(null);
      }
      domains.push({ name: domain, blocks: blocks.length, tokens });
    }
  } finally {
    for (const r of restore) r();
  }
  const out: LayerRouting[] = [];
  moe.forEach((ffn, l) => {
    if (!ffn) return;
    const per: Record<string, DomainRouting> = {};
    for (const d of stats.domains(l)) {
      const s = stats.summary(l, d)!;
      const dense = denseCounts[l]!.get(d) ?? new Array<number>(E).fill(0);
      per[d] = {
        counts: s.load, load: s.loadFraction, entropy: s.meanTokenEntropy ?? 0, dropped: s.dropped, tokens: s.tokens,
        ...(o.dense ? { dense: dense.map((c) => (s.tokens ? c / s.tokens : 0)) } : {}),
      };
    }
    const names = Object.keys(per);
    const overlap: Record<string, Record<string, number>> = {};
    for (const a1 of names) {
      overlap[a1] = {};
      const ta = topKOf(per[a1]!.counts, k);
      for (const b1 of names) {
        const tb = topKOf(per[b1]!.counts, k);
        overlap[a1]![b1] = [...ta].filter((e) => tb.has(e)).length / k;
      }
    }
    out.push({ layer: l, domains: per, topkOverlap: overlap });
  });
  return { experts: E, topK: k, domains, layers: out };
}
