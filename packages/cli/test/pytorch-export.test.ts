/**
 * `export`: the generated PyTorch training files carry the training config's hyperparameters, compile
 * as Python, mask padding, define what accelerate launches, and say what a llama_moe model needs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { lrAt, resolveConfig } from '@llama-moe/trainer';
import { cli, tempDir, tinyModel } from './helpers.js';

const hasPython = spawnSync('python3', ['--version']).status === 0;
let root: string, model: string, moe: string, packed: string, conf: string;

const CONFIG = {
  lr: 0.00123, lr_scheduler: 'linear', min_lr_ratio: 0.05, warmup_steps: 7, max_steps: 321, batch_size: 8, grad_accum: 3,
  weight_decay: 0.07, beta1: 0.85, beta2: 0.97, eps: 1e-7, clip_grad_norm: 0.7, seed: 42, save_every: 50, log_every: 5,
  domain_weights: { wikipedia: 0.25, github: 0.75 },
};

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  const corpus = path.join(root, 'corpus');
  await writeCorpus(corpus, generateCorpus({ seed: 1, docsPerDomain: 8, domains: ['wikipedia', 'github'] }));
  packed = path.join(root, 'packed');
  expect((await cli(['data', 'prepare', '--input', corpus, '--tokenizer', model, '--seq-len', '32', '--out', packed, '--quiet', '--remainder', 'pad'])).code).toBe(0);
  moe = path.join(root, 'moe');
  expect((await cli(['split', '--model', model, '--out', moe, '--experts', '4', '--top-k', '2', '--method', 'random', '--quiet'])).code).toBe(0);
  conf = path.join(root, 'train.yaml');
  fs.writeFileSync(conf, JSON.stringify({ model: moe, data: packed, output_dir: path.join(root, 'run'), ...CONFIG }));
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Run Python on train_hf.py's TRAIN, with_labels and lr_lambda only (torch, transformers and datasets need not be installed). */
function pyEval(script: string, expr: string): unknown {
  const prog = [
    'import ast, json, math, sys',
    'src = open(sys.argv[1]).read()',
    'tree = ast.parse(src)',
    "keep = [n for n in tree.body if (isinstance(n, ast.Assign) and n.targets[0].id == 'TRAIN') or (isinstance(n, ast.FunctionDef) and n.name in ('with_labels', 'lr_lambda'))]",
    "ns = {'math': math}",
    "exec(compile(ast.Module(body=keep, type_ignores=[]), 'train_hf.py', 'exec'), ns)",
    `print(json.dumps(eval(${JSON.stringify(expr)}, ns)))`,
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', prog, script], { encoding: 'utf8' }));
}

describe.runIf(hasPython)('export for PyTorch', () => {
  test('train_hf.py compiles and TRAIN equals the training config; accelerate launches main with --num-processes', async () => {
    const out = path.join(root, 'export');
    const r = await cli(['export', '--model', moe, '--data', packed, '--out', out, '--config', conf, '--num-processes', '4', '--zero-stage', '3']);
    expect(r.code, r.stderr).toBe(0);
    const script = path.join(out, 'train_hf.py');
    execFileSync('python3', ['-m', 'py_compile', script]);
    const train = pyEval(script, 'TRAIN') as Record<string, unknown>;
    expect(train).toEqual({
      learning_rate: CONFIG.lr, lr_scheduler: 'linear', min_lr_ratio: CONFIG.min_lr_ratio, warmup_steps: CONFIG.warmup_steps, max_steps: CONFIG.max_steps,
      global_batch_size: 8, per_device_train_batch_size: 2, gradient_accumulation_steps: 3, num_processes: 4,
      weight_decay: CONFIG.weight_decay, adam_beta1: CONFIG.beta1, adam_beta2: CONFIG.beta2, adam_epsilon: CONFIG.eps, max_grad_norm: CONFIG.clip_grad_norm,
      seq_len: 32, seed: 42, save_steps: 50, logging_steps: 5, domain_weights: CONFIG.domain_weights,
      model_loss: { gate_use_balance: true, gate_balance_loss_weight: 0.01 },
    });
    const src = fs.readFileSync(script, 'utf8');
    expect(src).toMatch(/^def main\(\):$/m);
    expect(src).toMatch(/if __name__ == "__main__":\n {4}main\(\)/);
    for (const k of ['learning_rate', 'warmup_steps', 'max_steps', 'per_device_train_batch_size', 'gradient_accumulation_steps', 'weight_decay', 'adam_beta1', 'adam_beta2', 'adam_epsilon', 'max_grad_norm', 'seed', 'save_steps', 'logging_steps']) {
      expect(src, k).toContain(`${k}=TRAIN["${k}"]`);
    }
    const acc = fs.readFileSync(path.join(out, 'accelerate_config.yaml'), 'utf8');
    expect(acc).toContain('main_training_function: main\n');
    expect(acc).toContain('num_processes: 4\n');
    expect(acc).toContain('deepspeed_config_file: ds_zero3.json');
    expect(fs.existsSync(path.join(out, 'ds_zero3.json'))).toBe(true);
  });

  test('the schedule in Python equals the trainer\'s at every step; padding is masked with -100', async () => {
    const script = path.join(root, 'export', 'train_hf.py');
    const cfg = resolveConfig({ ...CONFIG, seq_len: 32 } as never);
    const steps = [0, 1, 6, 7, 8, 100, 320, 321, 400];
    const py = pyEval(script, `[TRAIN["learning_rate"] * lr_lambda(i) for i in ${JSON.stringify(steps)}]`) as number[];
    steps.forEach((s, i) => expect(py[i]).toBeCloseTo(lrAt(s, cfg), 12));
    const labels = pyEval(script, 'with_labels({"input_ids": [[5, 6, 0, 0]], "attention_mask": [[1, 1, 0, 0]]})');
    expect(labels).toEqual({ labels: [[5, 6, -100, -100]] });
    expect(pyEval(script, 'with_labels({"input_ids": [[5, 6]]})')).toEqual({ labels: [[5, 6]] });
  });

  test('README.md says what a llama_moe model needs; a mixtral export turns the router loss on', async () => {
    const readme = fs.readFileSync(path.join(root, 'export', 'README.md'), 'utf8');
    for (const s of ['configuration_llama_moe.py', 'modeling_llama_moe_hf.py', '"auto_map"', 'trust_remote_code', '--format mixtral', 'lr 0.00123']) expect(readme).toContain(s);
    const mix = path.join(root, 'mix');
    expect((await cli(['split', '--model', model, '--out', mix, '--experts', '4', '--top-k', '2', '--method', 'random', '--format', 'mixtral', '--quiet'])).code).toBe(0);
    const out = path.join(root, 'export-mix');
    const r = await cli(['export', '--model', mix, '--data', packed, '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const train = pyEval(path.join(out, 'train_hf.py'), 'TRAIN') as { model_loss: unknown; learning_rate: number; num_processes: number };
    expect(train.model_loss).toEqual({ router_aux_loss_coef: expect.any(Number), output_router_logits: true });
    expect(train.learning_rate).toBe(2e-4);
    expect(train.num_processes).toBe(1);
  });

  test('a batch that does not split over the processes is a usage error', async () => {
    const r = await cli(['export', '--model', moe, '--data', packed, '--out', path.join(root, 'e3'), '--config', conf, '--num-processes', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('batch_size 8 does not split evenly over --num-processes 3');
  });
});
