import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tensor, setBackend } from '@llama-moe/tensor-core';
import { disposeWasmBackend, initWasmBackend } from '@llama-moe/tensor-core/wasm';
import { AdamW, decays } from './adamw.js';

const cfg = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };

/** torch.optim.AdamW's update written out in f64 for one element. */
function reference(x0: number, grads: number[], lrs: number[], wd: number, c = cfg): number[] {
  let x = x0, m = 0, v = 0;
  const xs: number[] = [];
  grads.forEach((g, i) => {
    const t = i + 1;
    const lr = lrs[i]!;
    x = x * (1 - lr * wd);
    m = c.beta1 * m + (1 - c.beta1) * g;
    v = c.beta2 * v + (1 - c.beta2) * g * g;
    const mh = m / (1 - c.beta1 ** t);
    const denom = Math.sqrt(v) / Math.sqrt(1 - c.beta2 ** t) + c.eps;
    x = x - lr * mh / denom;
    xs.push(x);
  });
  return xs;
}

function param(values: number[], shape: number[]): Tensor {
  return new Tensor(Float32Array.from(values), shape, { requiresGrad: true });
}

describe('AdamW', () => {
  it('matches the hand-computed torch AdamW trajectory for 4 steps, with and without weight decay', () => {
    const w = param([0.5, -1.25, 2, 0.125], [2, 2]);
    const norm = param([1, 0.75], [2]);
    const opt = new AdamW(cfg);
    const grads = [[0.1, -0.2, 0.3, 0.05], [0.2, 0.1, -0.4, 0.0], [-0.3, 0.25, 0.1, 0.5], [0.05, -0.05, 0.2, -0.1]];
    const ngrads = [[1, -2], [0.5, 0.5], [-1, 3], [2, -0.25]];
    const lrs = [1e-3, 2e-3, 3e-3, 2.5e-3];
    const x0 = Array.from(w.data), n0 = Array.from(norm.data);
    for (let s = 0; s < 4; s++) {
      w.grad = new Tensor(Float32Array.from(grads[s]!), [2, 2]);
      norm.grad = new Tensor(Float32Array.from(ngrads[s]!), [2]);
      opt.step([['model.layers.0.mlp.up_proj.weight', w], ['model.layers.0.input_layernorm.weight', norm]], lrs[s]!);
      for (let i = 0; i < 4; i++) {
        const ref = reference(x0[i]!, grads.slice(0, s + 1).map((g) => g[i]!), lrs, 0.1);
        expect(w.data[i]).toBeCloseTo(ref[s]!, 6);
      }
      for (let i = 0; i < 2; i++) {
        // Norm weights never decay.
        const ref = reference(n0[i]!, ngrads.slice(0, s + 1).map((g) => g[i]!), lrs, 0);
        expect(norm.data[i]).toBeCloseTo(ref[s]!, 6);
      }
    }
    expect(opt.stepCounts()).toEqual({ 'model.layers.0.mlp.up_proj.weight': 4, 'model.layers.0.input_layernorm.weight': 4 });
  });

  it('excludes norms, biases and rank ≤ 1 tensors from weight decay, by name and rank', () => {
    expect(decays('model.layers.3.input_layernorm.weight', [64])).toBe(false);
    expect(decays('model.layers.3.post_attention_layernorm.weight', [64])).toBe(false);
    expect(decays('model.norm.weight', [64])).toBe(false);
    expect(decays('model.layers.0.self_attn.q_proj.bias', [64])).toBe(false);
    // Name rule alone (a 2-D tensor named as a norm or bias still does not decay).
    expect(decays('model.layers.0.odd_layernorm.weight', [2, 2])).toBe(false);
    expect(decays('model.layers.0.mlp.up_proj.bias', [2, 2])).toBe(false);
    expect(decays('model.embed_tokens.weight', [259, 32])).toBe(true);
    expect(decays('lm_head.weight', [259, 32])).toBe(true);
    expect(decays('model.layers.0.mlp.gate.gate_network.0.weight', [4, 32])).toBe(true);
    expect(decays('model.layers.0.mlp.calculator.experts.weight_up.3', [16, 32])).toBe(true);
  });

  it('a zero gradient with weight decay only shrinks the weight by lr·λ (decoupled decay)', () => {
    const w = param([2, -4], [1, 2]);
    w.grad = new Tensor(new Float32Array(2), [1, 2]);
    new AdamW(cfg).step([['w', w]], 0.5);
    expect(Array.from(w.data)).toEqual([Math.fround(2 * 0.95), Math.fround(-4 * 0.95)]);
  });

  it('skips parameters without a gradient (no state, no decay) and counts steps per parameter', () => {
    const a = param([1, 2], [1, 2]);
    const b = param([3, 4], [1, 2]);
    const opt = new AdamW(cfg);
    a.grad = new Tensor(Float32Array.from([1, 1]), [1, 2]);
    opt.step([['a', a], ['b', b]], 1e-2);
    expect(Array.from(b.data)).toEqual([3, 4]);
    expect(opt.state.has('b')).toBe(false);
    b.grad = new Tensor(Float32Array.from([1, 1]), [1, 2]);
    opt.step([['a', a], ['b', b]], 1e-2);
    expect(opt.stepCounts()).toEqual({ a: 2, b: 1 });
  });

  it('property: the first update moves each weight by lr·g/(|g| + ε) against the gradient (bias correction)', () => {
    fc.assert(fc.property(
      fc.array(fc.float({ min: -10, max: 10, noNaN: true }).filter((g) => Math.abs(g) > 1e-3), { minLength: 1, maxLength: 7 }),
      fc.double({ min: 1e-5, max: 1e-1, noNaN: true }),
      (gs, lr) => {
        const x = param(gs.map(() => 0.5), [gs.length]);
        x.grad = new Tensor(Float32Array.from(gs), [gs.length]);
        new AdamW({ ...cfg, weight_decay: 0 }).step([['v', x]], lr);
        gs.forEach((g, i) => {
          const gf = Math.fround(g);
          expect(x.data[i]).toBeCloseTo(0.5 - (lr * gf) / (Math.abs(gf) + 1e-8), 5);
        });
      },
    ), { numRuns: 50 });
  });

  it('on the wasm backend the moments live in the kernel\'s memory; the trajectory is bit-identical to cpu, through a setState restore', async () => {
    const sizes = [7, 8195, 300];
    const mk = () => sizes.map((n, i) => [`layers.${i}.weight`, new Tensor(Float32Array.from({ length: n }, (_, j) => Math.sin(j * 0.37 + i)), [n], { requiresGrad: true })] as [string, Tensor]);
    const grads = (step: number) => sizes.map((n, i) => Float32Array.from({ length: n }, (_, j) => Math.cos(j * 0.11 + i * 3 + step)));
    const run = (params: [string, Tensor][], opt: AdamW, steps: number[]) => {
      for (const s of steps) {
        const g = grads(s);
        params.forEach(([, p], i) => { p.grad = new Tensor(g[i]!, p.shape); });
        opt.step(params, 1e-2, { gradScale: 0.5 });
      }
    };
    const ready = await initWasmBackend({ threads: 1 });
    expect(ready.ok).toBe(true);
    try {
      setBackend(['wasm']);
      const pw = mk(), ow = new AdamW({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 });
      run(pw, ow, [0, 1]);
      const buf = ow.state.get('layers.0.weight')!.expAvg.buffer;
      expect(sizes.every((_, i) => ow.state.get(`layers.${i}.weight`)!.expAvgSq.buffer === buf)).toBe(true);
      // a restore from plain arrays (what a checkpoint load gives) moves into an arena at the next step
      const resumed = new AdamW(ow.cfg);
      for (const [n, st] of ow.state) resumed.setState(n, { step: st.step, expAvg: st.expAvg.slice(), expAvgSq: st.expAvgSq.slice() });
      const pr = pw.map(([n, t]) => [n, new Tensor(t.f32().slice(), t.shape, { requiresGrad: true })] as [string, Tensor]);
      run(pw, ow, [2, 3]);
      run(pr, resumed, [2, 3]);
      expect(resumed.state.get('layers.1.weight')!.expAvg.buffer).not.toBe(buf);
      setBackend(['cpu']);
      const pc = mk(), oc = new AdamW(ow.cfg);
      run(pc, oc, [0, 1, 2, 3]);
      for (let i = 0; i < sizes.length; i++) {
        const name = `layers.${i}.weight`;
        for (const [p, o] of [[pw, ow], [pr, resumed]] as const) {
          expect(Buffer.from(p[i]![1].f32().buffer).equals(Buffer.from(pc[i]![1].f32().buffer)), name).toBe(true);
          expect(Array.from(o.state.get(name)!.expAvgSq)).toEqual(Array.from(oc.state.get(name)!.expAvgSq));
          expect(o.stepCounts()[name]).toBe(4);
        }
      }
    } finally {
      disposeWasmBackend();
      setBackend(['cpu']);
    }
  });
});

