import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_TRAIN_CONFIG, configHash, resolveConfig, trajectoryDiff } from './config.js';
import { TrainConfigError } from './errors.js';
import { checkStagesAgainst, stageIndexAt, trainableFilter } from './freeze.js';
import { tinyModel, tinyMoeModel } from '../test/support/fixtures.js';

function errorKey(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TrainConfigError);
    expect((e as Error).message.split('\n')).toHaveLength(1);
    return (e as TrainConfigError).key;
  }
  throw new Error('expected a TrainConfigError');
}

describe('resolveConfig', () => {
  it('defaults follow the LLaMA-MoE recipe', () => {
    const c = resolveConfig({});
    expect(c).toMatchObject({ lr: 2e-4, min_lr_ratio: 0.1, warmup_steps: 100, lr_scheduler: 'cosine', beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, clip_grad_norm: 1, nan_policy: 'stop' });
    expect(c).toEqual({ ...DEFAULT_TRAIN_CONFIG });
  });

  it('names the bad key (with a suggestion for typos)', () => {
    expect(errorKey(() => resolveConfig({ lr: -1 }))).toBe('lr');
    expect(errorKey(() => resolveConfig({ batch_size: 2.5 }))).toBe('batch_size');
    expect(errorKey(() => resolveConfig({ beta2: 1 }))).toBe('beta2');
    expect(errorKey(() => resolveConfig({ lr_scheduler: 'step' }))).toBe('lr_scheduler');
    expect(errorKey(() => resolveConfig({ nan_policy: 'ignore' }))).toBe('nan_policy');
    expect(errorKey(() => resolveConfig({ domain_weights: 'doremi' }))).toBe('domain_weights');
    expect(errorKey(() => resolveConfig({ domain_weights: { cc: -0.5 } }))).toBe('domain_weights.cc');
    expect(errorKey(() => resolveConfig({ dynamic: { rule: 'doremi' } }))).toBe('dynamic.rule');
    expect(errorKey(() => resolveConfig({ dynamic: { rule: 'sheared_llama', step: 1 } }))).toBe('dynamic.step');
    expect(errorKey(() => resolveConfig({ dynamic: { rule: 'sheared_llama' }, eval_blocks: 0 }))).toBe('dynamic');
    expect(errorKey(() => resolveConfig({ stages: [{ trainable: 'gates' }, { trainable: 'all' }] }))).toBe('stages[0].steps');
    expect(errorKey(() => resolveConfig({ stages: [{ steps: 5, trainable: 'gate' }] }))).toBe('stages[0].trainable');
    expect(errorKey(() => resolveConfig({ stages: [{ steps: 5, trainable: ['all', '/[/'] }] }))).toBe('stages[0].trainable[1]');
    let msg = '';
    try { resolveConfig({ learning_rate: 1 }); } catch (e) { msg = (e as Error).message; }
    expect(msg).toMatch(/^config\.learning_rate: unknown key/);
    try { resolveConfig({ warmup_step: 1 }); } catch (e) { msg = (e as Error).message; }
    expect(msg).toContain("did you mean 'warmup_steps'");
  });

  it('the hash covers trajectory keys only', () => {
    const a = resolveConfig({ seed: 1 });
    expect(configHash(resolveConfig({ seed: 1, save_every: 7, keep_last: 1, quiet: true }))).toBe(configHash(a));
    expect(configHash(resolveConfig({ seed: 2 }))).not.toBe(configHash(a));
    expect(trajectoryDiff(a, resolveConfig({ seed: 1, lr: 1e-3, save_every: 3 }))).toEqual(['lr']);
  });

  it('property: any valid numeric setting round-trips through JSON unchanged', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.integer({ min: 1, max: 16 }), (steps, lr, accum) => {
      const c = resolveConfig({ max_steps: steps, lr, grad_accum: accum });
      expect(resolveConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
    }), { numRuns: 30 });
  });
});

describe('freezing stages', () => {
  const dense = tinyModel(0).namedParameters().map(([n]) => n);
  const moe = tinyMoeModel(0).namedParameters().map(([n]) => n);

  it('groups select parameters by Hugging Face name', () => {
    const gates = moe.filter(trainableFilter('gates'));
    expect(gates).toContain('model.layers.0.mlp.gate.gate_network.0.weight');
    expect(gates).toContain('model.layers.1.mlp.gate.weight_noise.weight');
    expect(gates.every((n) => n.includes('.mlp.gate.'))).toBe(true);
    expect(dense.filter(trainableFilter('gates'))).toEqual([]); // gate_proj is not a gate
    expect(trainableFilter('gates')('model.layers.0.block_sparse_moe.gate.weight')).toBe(true);
    expect(trainableFilter('experts')('model.layers.0.block_sparse_moe.experts.3.w1.weight')).toBe(true);
    expect(moe.filter(trainableFilter('experts'))).toHaveLength(2 * 3 * 4);
    expect(dense.filter(trainableFilter('attention'))).toHaveLength(2 * 4);
    expect(dense.filter(trainableFilter('embeddings'))).toEqual(['model.embed_tokens.weight', 'lm_head.weight']);
    expect(dense.filter(trainableFilter('norms'))).toHaveLength(2 * 2 + 1);
    expect(dense.filter(trainableFilter(['attention', 'norms']))).toHaveLength(2 * 4 + 5);
    expect(dense.filter(trainableFilter('/layers\\.1\\..*proj/'))).toHaveLength(7);
    expect(dense.filter(trainableFilter('all'))).toEqual(dense);
  });

  it('stage boundaries and the model check', () => {
    const stages = [{ steps: 3, trainable: 'gates' }, { steps: 2, trainable: 'experts' }, { trainable: 'all' }];
    expect([0, 1, 2, 3, 4, 5, 100].map((i) => stageIndexAt(stages, i))).toEqual([0, 0, 0, 1, 1, 2, 2]);
    expect(stageIndexAt([{ steps: 2, trainable: 'all' }], 10)).toBe(0);
    expect(stageIndexAt(null, 4)).toBe(-1);
    expect(() => checkStagesAgainst(stages, moe)).not.toThrow();
    expect(errorKey(() => checkStagesAgainst(stages, dense))).toBe('stages[0].trainable');
  });
});
