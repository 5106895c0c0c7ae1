/**
 * The autograd gate modules against (a) the dependency-free routing functions of the package
 * root, which serve as the oracle for the forward pass, and (b) central finite differences for
 * the gradients of scores and balance losses with respect to inputs and gate parameters.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tensor, add, createRng, gradCheck, mul, sum } from '@llama-moe/tensor-core';
import { mixtralGate } from '../gates/mixtral.js';
import { noisyTopKGate } from '../gates/noisy-topk.js';
import { MixtralGate, NoisyTopKGate, SwitchGate, cvSquaredOp, zLossOp, type GateModule } from './gate-modules.js';

function rand(shape: number[], seed: number, std = 1): Tensor {
  const r = createRng(seed);
  return new Tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal() * std), shape);
}

/** Scalar objective mixing the scores (random projection) and the aux loss, so both paths are checked. */
function objective(gate: GateModule, x: Tensor, training: boolean, seed: number): Tensor {
  const out = gate.forward(x, { training, rng: createRng(seed) });
  const w = rand(out.scores.shape as number[], 99);
  let o = sum(mul(out.scores, w));
  if (out.auxLoss) o = add(o, mul(out.auxLoss, new Tensor(new Float32Array([50]), [])));
  return o;
}

describe('NoisyTopKGate', () => {
  it('eval forward equals the routing core (noisyTopKGate) on the same logits', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.nat(), fc.constantFrom<'mlp' | 'linear'>('mlp', 'linear'), (T, E, kk, s, net) => {
      const k = 1 + (kk % E), D = 5;
      const nw = net === 'mlp' ? [rand([E, D], s), rand([E, E], s + 1)] : [rand([E, D], s)];
      const gate = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: k, gateNetwork: net }, nw);
      const x = rand([T, D], s + 2);
      const out = gate.forward(x, { training: false, rng: createRng(1) });
      const ref = noisyTopKGate(gate.logits(x).f32(), E, { num_selects: k });
      expect(Array.from(out.topkIndices)).toEqual(Array.from(ref.topkIndices));
      out.scores.f32().forEach((v, i) => expect(v).toBeCloseTo(ref.topkScores[i]!, 5));
      expect(out.auxLoss!.item()).toBeCloseTo(ref.balanceLoss, 5);
    }), { numRuns: 60 });
  });

  it('training forward (noise, smooth load) equals the routing core given the same ε', () => {
    for (const [T, E, k, seed] of [[7, 4, 2, 1], [5, 8, 3, 2], [9, 3, 1, 3]] as const) {
      const D = 6;
      const gate = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: k, gateNetwork: 'mlp' }, [rand([E, D], seed), rand([E, E], seed + 1)], rand([E, D], seed + 2, 0.5));
      const x = rand([T, D], seed + 3);
      const out = gate.forward(x, { training: true, rng: createRng(7) });
      // Recreate the same ε and noise_std for the core function.
      const r = createRng(7);
      const eps = Float32Array.from({ length: T * E }, () => r.normal());
      const xn = x.f32(), wn = gate.weightNoise.f32();
      const noiseStd = new Float32Array(T * E);
      for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) {
        let z = 0;
        for (let d = 0; d < D; d++) z += xn[t * D + d]! * wn[e * D + d]!;
        noiseStd[t * E + e] = (z > 20 ? z : Math.log1p(Math.exp(z))) + 0.01;
      }
      const ref = noisyTopKGate(gate.logits(x).f32(), E, { num_selects: k, noise: { noise_std: noiseStd, eps } });
      expect(Array.from(out.topkIndices)).toEqual(Array.from(ref.topkIndices));
      out.load.forEach((v, i) => expect(v).toBeCloseTo(ref.load[i]!, 4));
      expect(out.auxLoss!.item()).toBeCloseTo(ref.balanceLoss, 5);
    }
  });

  it('gradients through scores and the balance loss match finite differences (eval, f32)', () => {
    for (const [T, E, k, seed] of [[6, 4, 2, 11], [5, 5, 1, 12], [4, 3, 3, 13]] as const) {
      const D = 4;
      const w0 = rand([E, D], seed, 0.7), w2 = rand([E, E], seed + 1, 0.7), wn = rand([E, D], seed + 2, 0.3);
      const x = rand([T, D], seed + 3);
      const mk = (a: Tensor, b: Tensor) => new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: k, gateNetwork: 'mlp' }, [a, b], wn);
      const r = gradCheck((xx, a, b) => objective(mk(a, b), xx, false, 5), [x, w0, w2], { eps: 1e-3, atol: 2e-3, rtol: 3e-2 });
      expect(r.ok, `T=${T} E=${E} k=${k}: ${r.message}`).toBe(true);
    }
  });

  it('noisy training: gradients of the balance loss (smooth load) match float64 finite differences', () => {
    // f32 finite differences are too coarse for the smooth-load path (changes of ~1e-7 in a loss of
    // ~1e-2), so the reference is the whole gate recomputed in float64 with the routing core.
    for (const [T, E, k, seed] of [[6, 4, 2, 31], [5, 5, 1, 12], [7, 6, 3, 33]] as const) {
      const D = 4;
      const w0 = rand([E, D], seed, 0.7), w2 = rand([E, E], seed + 1, 0.7), wn = rand([E, D], seed + 2, 0.3), x = rand([T, D], seed + 3);
      const params = [x, w0, w2, wn].map((t) => new Tensor(Float32Array.from(t.f32()), t.shape, { requiresGrad: true }));
      const gate = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: k, gateNetwork: 'mlp' }, [params[1]!, params[2]!], params[3]!);
      gate.forward(params[0]!, { training: true, rng: createRng(5) }).auxLoss!.backward();
      const f64 = (v: Float64Array[]) => {
        const [xd, a, b, n] = v as [Float64Array, Float64Array, Float64Array, Float64Array];
        const H = new Float64Array(T * E), ns = new Float64Array(T * E);
        for (let t = 0; t < T; t++) {
          const hid = new Float64Array(E);
          for (let e = 0; e < E; e++) { let z = 0; for (let d = 0; d < D; d++) z += xd[t * D + d]! * a[e * D + d]!; hid[e] = Math.tanh(z); }
          for (let e = 0; e < E; e++) {
            let z = 0; for (let j = 0; j < E; j++) z += hid[j]! * b[e * E + j]!; H[t * E + e] = z;
            let q = 0; for (let d = 0; d < D; d++) q += xd[t * D + d]! * n[e * D + d]!; ns[t * E + e] = (q > 20 ? q : Math.log1p(Math.exp(q))) + 0.01;
          }
        }
        const r = createRng(5);
        const eps = Float64Array.from({ length: T * E }, () => r.normal());
        return noisyTopKGate(H, E, { num_selects: k, noise: { noise_std: ns, eps } }).balanceLoss;
      };
      const base = params.map((p) => Float64Array.from(p.f32()));
      params.forEach((p, pi) => {
        const g = p.grad!.f32();
        for (let i = 0; i < p.size; i++) {
          const h = 1e-6;
          const up = base.map((b) => b.slice()), dn = base.map((b) => b.slice());
          up[pi]![i]! += h; dn[pi]![i]! -= h;
          const num = (f64(up) - f64(dn)) / (2 * h);
          expect(Math.abs(g[i]! - num), `param ${pi}[${i}]: analytic ${g[i]} vs float64 FD ${num}`).toBeLessThanOrEqual(2e-5 + 2e-3 * Math.abs(num));
        }
      });
    }
  });

  it('balance loss is 0 for perfectly uniform routing and positive otherwise', () => {
    // Identity-like logits: token t prefers expert t mod E, each expert chosen equally often with equal scores.
    const E = 4, k = 1, D = 4;
    const x = new Tensor(Float32Array.from({ length: 8 * D }, (_, i) => (i % D === Math.floor(i / D) % E ? 5 : 0)), [8, D]);
    const eye = new Tensor(Float32Array.from({ length: E * D }, (_, i) => (i % D === Math.floor(i / D) ? 1 : 0)), [E, D]);
    const g = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: k, gateNetwork: 'linear' }, [eye]);
    expect(g.forward(x, { training: false, rng: createRng(0) }).auxLoss!.item()).toBeCloseTo(0, 8);
    const skew = new Tensor(Float32Array.from({ length: 8 * D }, (_, i) => (i % D === 0 ? 5 : 0)), [8, D]);
    expect(g.forward(skew, { training: false, rng: createRng(0) }).auxLoss!.item()).toBeGreaterThan(0.01);
    expect(cvSquaredOp(new Tensor(new Float32Array([3]), [1])).item()).toBe(0);
  });
});

describe('MixtralGate', () => {
  it('forward equals the routing core (mixtralGate): softmax, top-k, renormalise', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.nat(), (T, E, kk, s) => {
      const k = 1 + (kk % E), D = 5;
      const gate = new MixtralGate({ hiddenSize: D, numExperts: E, topK: k }, rand([E, D], s));
      const x = rand([T, D], s + 1);
      const out = gate.forward(x, { training: true, rng: createRng(0) });
      const logits = new Float32Array(T * E);
      const xd = x.f32(), wd = gate.weight.f32();
      for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) { let z = 0; for (let d = 0; d < D; d++) z += xd[t * D + d]! * wd[e * D + d]!; logits[t * E + e] = z; }
      const ref = mixtralGate(logits, E, { num_experts_per_tok: k, router_aux_loss_coef: 0.001 });
      expect(Array.from(out.topkIndices)).toEqual(Array.from(ref.topkIndices));
      out.scores.f32().forEach((v, i) => expect(v).toBeCloseTo(ref.topkScores[i]!, 5));
      expect(out.auxLoss!.item()).toBeCloseTo(ref.balanceLoss, 6);
    }), { numRuns: 60 });
  });

  it('gradients (scores, aux loss, z-loss) match finite differences', () => {
    for (const [T, E, k, seed] of [[6, 4, 2, 21], [5, 6, 1, 22], [3, 3, 3, 23]] as const) {
      const D = 4;
      const r = gradCheck((xx, w) => objective(new MixtralGate({ hiddenSize: D, numExperts: E, topK: k, routerAuxLossCoef: 0.02, zLossCoef: 0.01 }, w), xx, true, 1), [rand([T, D], seed), rand([E, D], seed + 1)], { eps: 1e-3, rtol: 3e-2 });
      expect(r.ok, r.message).toBe(true);
    }
  });
});

describe('SwitchGate', () => {
  it('routes each token to one expert and its gradients match finite differences', () => {
    const D = 4, E = 3, T = 6;
    const gate = new SwitchGate({ hiddenSize: D, numExperts: E, gateNetwork: 'linear', addNoise: false }, [rand([E, D], 1)]);
    const out = gate.forward(rand([T, D], 2), { training: true, rng: createRng(0) });
    expect(out.topkIndices.length).toBe(T);
    expect(Array.from(out.load).reduce((a, b) => a + b, 0)).toBe(T);
    const r = gradCheck((xx, w) => objective(new SwitchGate({ hiddenSize: D, numExperts: E, gateNetwork: 'linear', addNoise: false }, [w]), xx, true, 0), [rand([T, D], 3), rand([E, D], 4)], { eps: 1e-3 });
    expect(r.ok, r.message).toBe(true);
  });
});

describe('router z-loss on the LLaMA-MoE gates', () => {
  it('adds coef · mean(logsumexp²) of the clean logits to the balance loss in training, with exact gradients', () => {
    const D = 4, E = 3, T = 5;
    const x = rand([T, D], 31), w = rand([E, D], 32);
    const plain = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: 2, gateNetwork: 'linear', addNoise: false }, [w]);
    const withZ = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: 2, gateNetwork: 'linear', addNoise: false, zLossCoef: 0.1 }, [w]);
    const ctx = { training: true, rng: createRng(0) };
    const logits = plain.logits(x).f32();
    let z = 0;
    for (let t = 0; t < T; t++) {
      const row = Array.from(logits.subarray(t * E, (t + 1) * E));
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
      z += lse * lse;
    }
    expect(withZ.forward(x, ctx).auxLoss!.item() - plain.forward(x, ctx).auxLoss!.item()).toBeCloseTo((0.1 * z) / T, 5);
    // Not at inference.
    expect(withZ.forward(x, { training: false, rng: createRng(0) }).auxLoss?.item() ?? 0).toBeCloseTo(plain.forward(x, { training: false, rng: createRng(0) }).auxLoss?.item() ?? 0, 9);
    for (const gate of [(ww: Tensor) => new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: 2, gateNetwork: 'linear', addNoise: false, zLossCoef: 0.05 }, [ww]), (ww: Tensor) => new SwitchGate({ hiddenSize: D, numExperts: E, gateNetwork: 'linear', addNoise: false, zLossCoef: 0.05 }, [ww])]) {
      const r = gradCheck((xx, ww) => objective(gate(ww), xx, true, 0), [rand([T, D], 33), rand([E, D], 34)], { eps: 1e-3, rtol: 3e-2 });
      expect(r.ok, r.message).toBe(true);
    }
  });
});

describe('ExpertChoiceGate', () => {
  it('each expert takes its top-C tokens as expertChoiceGate does; combine weights are their probabilities, with exact gradients', async () => {
    const { ExpertChoiceGate } = await import('./gate-modules.js');
    const { expertChoiceGate } = await import('../gates/expert-choice.js');
    const D = 4, E = 3, T = 7;
    const x = rand([T, D], 41), w = rand([E, D], 42);
    const gate = new ExpertChoiceGate({ hiddenSize: D, numExperts: E, gateNetwork: 'linear', capacityFactor: 2 }, [w]);
    const out = gate.forward(x, { training: true, rng: createRng(0) });
    // The oracle: the dependency-free routing function on the same logits x · wᵀ.
    const logits = new Float32Array(T * E);
    const xf = x.f32(), wf = w.f32();
    for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) for (let d = 0; d < D; d++) logits[t * E + e]! += xf[t * D + d]! * wf[e * D + d]!;
    const ref = expertChoiceGate(logits, E, { capacity_factor: 2 });
    expect(ref.capacity).toBe(Math.floor((2 * T) / E));
    expect(Array.from(out.plan!.permutation.subarray(0, E * ref.capacity))).toEqual(Array.from(ref.tokenIndices));
    const sc = out.scores.f32();
    for (let i = 0; i < sc.length; i++) expect(sc[i]).toBeCloseTo(ref.weights[i]!, 5);
    expect(out.auxLoss).toBeNull();
    expect(out.unrouted).toBe(ref.tokensWithoutExpert);
    expect(Array.from(out.load)).toEqual([ref.capacity, ref.capacity, ref.capacity]);
    const r = gradCheck((xx, ww) => sum(mul(new ExpertChoiceGate({ hiddenSize: D, numExperts: E, gateNetwork: 'linear', capacityFactor: 2 }, [ww]).forward(xx, { training: true, rng: createRng(0) }).scores, new Tensor(Float32Array.from({ length: E * ref.capacity }, (_, i) => 0.3 + 0.1 * i), [E * ref.capacity]))), [rand([T, D], 43), rand([E, D], 44)], { eps: 1e-3, rtol: 3e-2 });
    expect(r.ok, r.message).toBe(true);
  });
});

describe('one implementation: each module is the routing core plus its gate network', () => {
  const mm = (x: Tensor, w: Tensor, T: number, E: number, D: number) => {
    const out = new Float32Array(T * E);
    const xd = x.f32(), wd = w.f32();
    for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) { let z = 0; for (let d = 0; d < D; d++) z += xd[t * D + d]! * wd[e * D + d]!; out[t * E + e] = z; }
    return out;
  };

  it('scores, indices, aux loss, importance and load are bit-identical to the core functions on random inputs', async () => {
    const { ExpertChoiceGate } = await import('./gate-modules.js');
    const { expertChoiceGate } = await import('../gates/expert-choice.js');
    const { switchRoute } = await import('../gates/switch.js');
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.nat(), fc.boolean(), (T, E, kk, s, training) => {
      const k = 1 + (kk % E), D = 5;
      const x = rand([T, D], s + 2);
      const ctx = () => ({ training, rng: createRng(s) });
      // Noisy top-k (linear gate, so the logits are the core's input as the module computes them).
      const ng = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: k, gateNetwork: 'linear', referenceIsInQuirk: s % 2 === 0 }, [rand([E, D], s)], rand([E, D], s + 1, 0.5));
      const no = ng.forward(x, ctx());
      const r = createRng(s);
      const eps = Float32Array.from({ length: T * E }, () => r.normal());
      const noiseStd = new Float32Array(T * E);
      const nm = mm(x, ng.weightNoise, T, E, D);
      for (let i = 0; i < nm.length; i++) noiseStd[i] = Math.fround(Math.fround(nm[i]! > 20 ? nm[i]! : Math.max(nm[i]!, 0) + Math.log1p(Math.exp(-Math.abs(nm[i]!)))) + 0.01);
      const nref = noisyTopKGate(ng.logits(x).f32(), E, { num_selects: k, noise: training ? { noise_std: noiseStd, eps } : null, reference_is_in_quirk: s % 2 === 0 });
      expect(Array.from(no.topkIndices)).toEqual(Array.from(nref.topkIndices));
      expect(Array.from(no.scores.f32())).toEqual(Array.from(nref.topkScores));
      expect(no.auxLoss!.item()).toBe(Math.fround(nref.balanceLoss));
      expect(Array.from(no.importance)).toEqual(Array.from(nref.importance));
      expect(Array.from(no.load)).toEqual(Array.from(nref.load));
      // Mixtral.
      const mg = new MixtralGate({ hiddenSize: D, numExperts: E, topK: k }, rand([E, D], s + 3));
      const mo = mg.forward(x, ctx());
      const mref = mixtralGate(mm(x, mg.weight, T, E, D), E, { num_experts_per_tok: k });
      expect(Array.from(mo.topkIndices)).toEqual(Array.from(mref.topkIndices));
      expect(Array.from(mo.scores.f32())).toEqual(Array.from(mref.topkScores));
      expect(Array.from(mo.probs)).toEqual(Array.from(mref.probs));
      if (training) expect(mo.auxLoss!.item()).toBe(Math.fround(mref.balanceLoss));
      else expect(mo.auxLoss).toBeNull();
      // Switch (Gumbel selection noise in training, raw logit as score).
      const sg = new SwitchGate({ hiddenSize: D, numExperts: E, gateNetwork: 'linear' }, [rand([E, D], s + 4)]);
      const so = sg.forward(x, ctx());
      const u = createRng(s);
      const gumbel = training ? Float64Array.from({ length: T * E }, () => -Math.log(-Math.log(Math.max(u.uniform(), 1e-20)))) : null;
      const sref = switchRoute(mm(x, sg.network[0]!, T, E, D), E, { noise: gumbel, score: 'logit' });
      expect(Array.from(so.topkIndices)).toEqual(Array.from(sref.topkIndices));
      expect(Array.from(so.scores.f32())).toEqual(Array.from(sref.topkScores));
      expect(so.auxLoss!.item()).toBe(Math.fround(sref.balanceLoss));
      // Expert choice.
      const eg = new ExpertChoiceGate({ hiddenSize: D, numExperts: E, gateNetwork: 'linear', capacityFactor: 1.5 }, [rand([E, D], s + 5)]);
      const eo = eg.forward(x, ctx());
      const eref = expertChoiceGate(mm(x, eg.network[0]!, T, E, D), E, { capacity_factor: 1.5 });
      expect(Array.from(eo.scores.f32())).toEqual(Array.from(eref.weights));
      expect(Array.from(eo.plan!.permutation)).toEqual(Array.from(eref.plan.permutation));
    }), { numRuns: 40 });
  });

  it("the core's gateLogits computes the modules' gate networks (embedders route hidden states without tensor-core)", async () => {
    const { gateLogits } = await import('../gate-network.js');
    const T = 5, D = 6, E = 4;
    const x = rand([T, D], 71), w0 = rand([E, D], 72), w2 = rand([E, E], 73);
    const mlp = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: 2, gateNetwork: 'mlp' }, [w0, w2]);
    const lin = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: 2, gateNetwork: 'linear' }, [w0]);
    const a = gateLogits(x.f32(), D, [w0.f32(), w2.f32()], E), b = gateLogits(x.f32(), D, [w0.f32()], E);
    mlp.logits(x).f32().forEach((v, i) => expect(v).toBeCloseTo(a[i]!, 5));
    lin.logits(x).f32().forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
  });

  it('the coarse tape ops (scores, balance loss, z-loss, cv²) match finite differences', () => {
    const D = 4, E = 5, T = 6;
    // Noisy gate in training: scores and the smooth-load balance loss are two ops over the logits and noise_std.
    const r1 = gradCheck((xx, w, wn) => objective(new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: 2, gateNetwork: 'linear', useBalance: false }, [w], wn), xx, true, 3), [rand([T, D], 51), rand([E, D], 52), rand([E, D], 53, 0.3)], { eps: 1e-3, rtol: 3e-2 });
    expect(r1.ok, r1.message).toBe(true);
    // Switch with Gumbel noise: the same noise on every evaluation (fresh rng per forward).
    const r2 = gradCheck((xx, w) => objective(new SwitchGate({ hiddenSize: D, numExperts: E, gateNetwork: 'linear', zLossCoef: 0.05 }, [w]), xx, true, 4), [rand([T, D], 54), rand([E, D], 55)], { eps: 1e-3, rtol: 3e-2 });
    expect(r2.ok, r2.message).toBe(true);
    const r3 = gradCheck((l) => zLossOp(l), [rand([T, E], 56, 2)], { eps: 1e-3, rtol: 3e-2 });
    expect(r3.ok, r3.message).toBe(true);
    const r4 = gradCheck((v) => cvSquaredOp(v), [new Tensor(Float32Array.from([1.5, 0.3, 2.2, 0.9]), [4])], { eps: 1e-3, rtol: 3e-2 });
    expect(r4.ok, r4.message).toBe(true);
  });

  it('non-finite gate logits give NaN scores and aux loss (the trainer names the step) instead of throwing', () => {
    const D = 4, E = 3, T = 5;
    const w = rand([E, D], 61);
    w.f32()[2] = NaN;
    for (const gate of [
      new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: 2, gateNetwork: 'linear' }, [w]),
      new MixtralGate({ hiddenSize: D, numExperts: E, topK: 2 }, w),
      new SwitchGate({ hiddenSize: D, numExperts: E, gateNetwork: 'linear' }, [w]),
    ]) {
      const out = gate.forward(rand([T, D], 62), { training: true, rng: createRng(0) });
      expect(out.topkIndices.length).toBe(T * gate.topK);
      expect(Array.from(out.topkIndices).every((e) => e >= 0 && e < E)).toBe(true);
      expect(out.scores.f32().every((v) => Number.isNaN(v))).toBe(true);
      expect(out.auxLoss!.item()).toBeNaN();
    }
  });
});
