/**
 * `llama-moe demo`: the whole pipeline on a tiny model in a minute: random-init a tiny LLaMA,
 * write the synthetic corpus, pack it, split the model into experts, train a few steps, evaluate
 * and generate. Everything lands in one folder, which appears only when the demo completes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { checkOutputDir } from '../paths.js';
import { findLibraryFunction } from '../library.js';
import { CliError } from '../errors.js';
import { invoke } from '../dispatch.js';
import { initCommand } from './init.js';
import { dataPrepareCommand } from './data-prepare.js';
import { splitCommand, SPLIT_FUNCTION_NAMES } from './split.js';
import { trainCommand, TRAIN_FUNCTION_NAMES } from './train.js';
import { evalCommand, EVAL_FUNCTION_NAMES } from './eval.js';
import { generateCommand } from './generate.js';
import type { CommandArgs, CommandSpec } from '../command.js';

export async function run(args: CommandArgs): Promise<number> {
  const o = args.options as { out: string; steps: number; seed: number };
  // Every stage's library must be present before anything is written.
  const missing = !(await findLibraryFunction('expert-partition', SPLIT_FUNCTION_NAMES)) || !(await findLibraryFunction('trainer', TRAIN_FUNCTION_NAMES));
  if (missing) throw new CliError('not available in this build');
  checkOutputDir(o.out);
  const target = path.resolve(o.out);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const staging = path.join(path.dirname(target), `.${path.basename(target)}.partial-${process.pid}`);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging);
  const p = (name: string) => path.join(staging, name);
  const q = args.quiet ? ['--quiet'] : [];
  const step = (title: string) => {
    if (!args.quiet) args.io.stderr(`\n== ${title}\n`);
  };
  try {
    step('1/6 init: a random tiny LLaMA');
    await invoke(initCommand, ['--preset', 'tiny', '--out', p('dense'), '--seed', String(o.seed), ...q], args.io);
    step('2/6 corpus + data prepare: the synthetic SlimPajama-like corpus, packed in blocks of 64 tokens');
    await writeCorpus(p('corpus'), generateCorpus({ seed: o.seed, docsPerDomain: 60 }));
    await invoke(dataPrepareCommand, ['--input', p('corpus'), '--tokenizer', p('dense'), '--seq-len', '64', '--out', p('data'), ...q], args.io);
    step('3/6 split: 4 experts, top-2, random split');
    await invoke(splitCommand, ['--model', p('dense'), '--out', p('moe'), '--experts', '4', '--top-k', '2', '--method', 'random', '--seed', String(o.seed), ...q], args.io);
    step(`4/6 train: ${o.steps} steps`);
    const config = { model: p('moe'), data: p('data'), output_dir: p('run'), max_steps: o.steps, batch_size: 4, seq_len: 64, lr: 1e-3, seed: o.seed, weights: 'uniform' };
    fs.writeFileSync(p('train.json'), JSON.stringify(config, null, 2) + '\n');
    await invoke(trainCommand, ['--config', p('train.json'), ...q], args.io);
    if (await findLibraryFunction('trainer', EVAL_FUNCTION_NAMES)) {
      step('5/6 eval');
      await invoke(evalCommand, ['--model', p('moe'), '--data', p('data'), '--max-blocks', '4'], args.io);
    }
    step('6/6 generate');
    await invoke(generateCommand, ['--model', p('dense'), '--prompt', 'The quiet river', '--max-new-tokens', '24', ...q], args.io);
    fs.renameSync(staging, target);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  if (!args.quiet) args.io.stdout(`demo written to ${o.out}\n`);
  return 0;
}

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'Run the whole pipeline on a tiny model (init, data, split, train, eval, generate)',
  description:
    'A guided tour on a tiny random LLaMA that runs on a laptop CPU: init the model, write and pack the synthetic ' +
    'corpus, split the FFNs into 4 experts (top-2), train a few steps with domain-weighted sampling, evaluate and ' +
    'generate. Every stage is an ordinary llama-moe command; the folder holds all their outputs.',
  usage: ['demo [--out DIR] [--steps N] [--seed S]'],
  options: [
    { name: 'out', type: 'string', default: 'llama-moe-demo', valueName: 'DIR', description: 'New folder for the demo\'s outputs (default ./llama-moe-demo).' },
    { name: 'steps', type: 'int', min: 1, default: 20, description: 'Training steps (default 20).' },
    { name: 'seed', type: 'int', min: 0, default: 0, valueName: 'S', description: 'Seed of every stage.' },
  ],
  examples: ['llama-moe demo', 'llama-moe demo --out /tmp/demo --steps 50'],
  run,
};
