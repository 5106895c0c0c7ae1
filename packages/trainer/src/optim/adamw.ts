/**
 * AdamW with decoupled weight decay, step by step as torch.optim.AdamW (single-tensor path):
 *   θ ← θ·(1 − lr·λ)                          (only for parameters that decay)
 *   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²
 *   θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
 * with a per-parameter step count t (a parameter frozen in an early stage starts at t = 1 when it
 * is first trained, as PyTorch creates its state lazily). Parameters without a gradient this step
 * are skipped entirely (no decay, no moment update), like PyTorch's `grad is None`.
 * Moments are Float32Arrays (as torch's f32 state), allocated together by tensor-core's
 * `allocAdamwState` (inside the wasm kernel's memory when that backend is on, so the update
 * streams only θ and g). The update is tensor-core's `adamw` kernel:
 * torch's single-tensor op order with each op rounded to f32, as torch's f32 kernels compute; the
 * wasm backend runs it in SIMD (~2 ns/parameter against ~12 in scalar JavaScript), bit-identical
 * to the cpu oracle.
 *
 * Weight decay exclusion rule (by name and rank): no decay for any parameter of rank ≤ 1 (norm
 * weights, biases) and for names containing `layernorm`, ending in `.bias`, or equal to
 * `model.norm.weight` — the standard "no decay for norms and biases" split of HF / Megatron.
 */
import { adamwUpdate, allocAdamwState, type Tensor } from '@llama-moe/tensor-core';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
}

export interface ParamState {
  step: number;
  /** [numel] first moment */ expAvg: Float32Array;
  /** [numel] second moment */ expAvgSq: Float32Array;
}

/** Whether weight decay applies to a parameter (see the module comment for the rule). */
export function decays(name: string, shape: readonly number[]): boolean {
  if (shape.length <= 1) return false;
  if (/layernorm/i.test(name) || name.endsWith('.bias') || name === 'model.norm.weight' || /(^|\.)norm\.weight$/.test(name)) return false;
  return true;
}

export class AdamW {
  readonly cfg: AdamWConfig;
  /** State per parameter name; created on a parameter's first update. */
  readonly state = new Map<string, ParamState>();
  /** Names whose state came from `setState`, moved into allocated state at their next update. */
  private readonly restored = new Set<string>();

  constructor(cfg: AdamWConfig) {
    this.cfg = { ...cfg };
  }

  /**
   * One update of every named parameter that has a gradient, at learning rate `lr`.
   * `gradScale` (the clipping coefficient from `clipCoefficient`) multiplies each gradient element
   * as it is read, rounded to f32 exactly as clip_grad_norm_'s in-place `g.mul_(coef)` would store
   * it: the same update as clipping first, without a separate pass over every gradient.
   */
  step(params: readonly [string, Tensor][], lr: number, opts: { gradScale?: number } = {}): void {
    const { beta1: b1, beta2: b2, eps, weight_decay: wd } = this.cfg;
    const gs = Math.fround(opts.gradScale ?? 1);
    if (!(gs > 0) || !Number.isFinite(gs)) throw new RangeError(`AdamW.step: gradScale must be a positive finite number, got ${opts.gradScale}`);
    this.allocateState(params);
    for (const [name, p] of params) {
      const g = p.grad?.data as Float32Array | undefined;
      if (!g) continue;
      const x = p.f32(`AdamW '${name}'`);
      const st = this.state.get(name)!;
      st.step++;
      const bc1 = 1 - Math.pow(b1, st.step);
      const bc2Sqrt = Math.sqrt(1 - Math.pow(b2, st.step));
      const decay = decays(name, p.shape) && wd > 0 ? 1 - lr * wd : 1;
      adamwUpdate({ param: x, grad: g, expAvg: st.expAvg, expAvgSq: st.expAvgSq, gradScale: gs, decay, beta1: b1, beta2: b2, stepSize: lr / bc1, bc2Sqrt, eps }, name);
    }
  }

  /**
   * State for every parameter about to be updated that has none (zeros) or was restored by
   * `setState` (copied over), in one `allocAdamwState` call: on the wasm backend the moments then
   * live in the kernel's own memory and are updated in place.
   */
  private allocateState(params: readonly [string, Tensor][]): void {
    const want = params.filter(([name, p]) => p.grad && (!this.state.has(name) || this.restored.has(name)));
    if (!want.length) return;
    const fresh = allocAdamwState(want.map(([, p]) => p.size));
    want.forEach(([name, p], i) => {
      const old = this.state.get(name);
      const st = fresh[i]!;
      if (old) {
        if (old.expAvg.length !== p.size) throw new RangeError(`AdamW: restored state of '${name}' has ${old.expAvg.length} elements, the parameter has ${p.size}`);
        st.expAvg.set(old.expAvg);
        st.expAvgSq.set(old.expAvgSq);
      }
      this.state.set(name, { step: old?.step ?? 0, expAvg: st.expAvg, expAvgSq: st.expAvgSq });
      this.restored.delete(name);
    });
  }

  /** Per-parameter step counts (JSON part of a checkpoint). */
  stepCounts(): Record<string, number> {
    return Object.fromEntries([...this.state].map(([n, s]) => [n, s.step]));
  }

  /** Restore one parameter's state (from optimizer.safetensors + trainer_state.json). */
  setState(name: string, s: ParamState): void {
    this.state.set(name, { step: s.step, expAvg: s.expAvg, expAvgSq: s.expAvgSq });
    this.restored.add(name);
  }
}
