/**
 * `llama-moe demo`: the LLaMA-MoE pipeline end to end on real text that ships with the package.
 * The dense LLaMA in assets/brown-model (pre-trained on the Brown Corpus train split by
 * tools/pretrain-brown.mjs) is split into 8 experts, top-2, twice (random and clustering
 * partitions, LLaMA-MoE format); each MoE gets the same short continual pre-training on the Brown
 * train split with Sheared-LLaMA dynamic domain weights; the dense model and every MoE before and
 * after training are scored by per-domain perplexity on the validation split, and each continues
 * a test-set prompt so a person sees what the numbers mean. The folder holds each run's split model, trained
 * checkpoint, metrics and report.html, plus summary.json and an index.html linking everything;
 * it is built in a staging folder beside the target and appears only when the demo completes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CliError } from '../errors.js';
import { checkOutputDir, requireInputDir } from '../paths.js';
import { formatDuration } from '../format.js';
import type { TrainBudget } from '../demo/recipe.js';
import { BROWN_RECIPE } from '../brown/recipe.js';
import { brownData } from '../brown/data.js';
import { testPrompt } from '../brown/pretrain.js';
import { backendDescription } from '../demo/backend.js';
import { runExperiment, type MoeVariant } from '../demo/experiment.js';
import { renderContinuationsText, renderIndexHtml, renderSummaryText } from '../demo/summary.js';
import { buildFolderAtomically } from '../demo/staging.js';
import { brownModelDir } from '../demo/assets.js';
import type { CommandArgs, CommandSpec } from '../command.js';

export const SUMMARY_NAME = 'summary.json';
/** The demo's prompt: the first words of this genre's first test document. */
export const DEMO_PROMPT_GENRE = 'fiction-adventure';
export const INDEX_NAME = 'index.html';

/** The demo's MoEs: the paper's two weight-only partitions at its 2/8 setting. */
export const DEMO_VARIANTS: readonly MoeVariant[] = [
  { method: 'random', experts: 8, topK: 2 },
  { method: 'clustering', experts: 8, topK: 2 },
];

interface DemoOptions {
  out: string;
  steps?: number;
  quick: boolean;
  overwrite: boolean;
  seed: number;
  model?: string;
}

/** The budget for this invocation: --quick picks the small one; --steps overrides its length. */
export function demoBudget(quick: boolean, steps?: number): TrainBudget {
  const base = quick ? BROWN_RECIPE.quick : BROWN_RECIPE.demo;
  const n = steps ?? base.steps;
  return { ...base, steps: n, evalEvery: Math.min(base.evalEvery, n), warmupSteps: Math.min(base.warmupSteps, Math.max(0, n - 1)) };
}

/**
 * An existing non-empty --out is refused, unless --overwrite and it is a previous demo's folder
 * (it holds summary.json): --overwrite never deletes a folder this command did not write.
 */
function checkDemoOut(out: string, overwrite: boolean): void {
  let entries: string[] | null = null;
  try {
    if (fs.statSync(out).isDirectory()) entries = fs.readdirSync(out);
  } catch {
    entries = null;
  }
  if (!entries || entries.length === 0 || !overwrite) {
    if (entries && entries.length > 0) throw new CliError(`--out ${out}: folder exists and is not empty`, 'choose a new folder, or pass --overwrite to replace a previous demo');
    checkOutputDir(out);
    return;
  }
  if (!entries.includes(SUMMARY_NAME)) {
    throw new CliError(`--out ${out}: --overwrite only replaces a previous demo folder, and this one has no ${SUMMARY_NAME}`, 'choose a new folder or remove this one yourself');
  }
}

export async function run(args: CommandArgs): Promise<number> {
  const raw = args.options as Record<string, unknown>;
  const o: DemoOptions = {
    out: raw.out as string,
    steps: raw.steps as number | undefined,
    quick: raw.quick === true,
    overwrite: raw.overwrite === true,
    seed: raw.seed as number,
    model: raw.model as string | undefined,
  };
  const denseDir = o.model ?? brownModelDir();
  requireInputDir(denseDir, o.model ? '--model' : '', o.model ? 'model folder' : 'shipped Brown model (packages/cli/assets/brown-model)');
  for (const f of ['config.json', 'tokenizer.json']) {
    if (!fs.existsSync(path.join(denseDir, f))) {
      throw new CliError(`${o.model ? `--model ${denseDir}` : denseDir}: no ${f} in the folder`, o.model ? 'pass a dense Hugging Face LLaMA folder with its tokenizer (e.g. one written by tools/pretrain-brown.mjs)' : 'reinstall the package, or regenerate it with `node tools/pretrain-brown.mjs`');
    }
  }
  checkDemoOut(o.out, o.overwrite);
  const budget = demoBudget(o.quick, o.steps);
  const target = path.resolve(o.out);
  const say = (line: string) => {
    if (!args.quiet) args.io.stderr(`== ${line}\n`);
  };
  const t0 = performance.now();
  const backend = backendDescription();
  say(`llama-moe demo${o.quick ? ' (quick)' : ''}: ${DEMO_VARIANTS.length} MoEs from ${denseDir}, ${budget.steps} training steps each; matmul backend ${backend}`);
  const prompt = testPrompt(brownData(), DEMO_PROMPT_GENRE);
  const summary = await buildFolderAtomically(target, async (staging) => {
    const s = await runExperiment({
      denseDir,
      workDir: staging,
      variants: [...DEMO_VARIANTS],
      budget,
      corpus: { preset: 'brown' },
      prompt: prompt.prompt,
      seed: o.seed,
      log: say,
      progress: args.quiet ? null : { write: (t: string) => args.io.stderr(t), isTTY: args.io.isTTY, columns: args.io.columns },
      backend,
    });
    // The trainer's reports name the folder they were written in; name the one the user will open.
    for (const r of s.runs) {
      const report = path.join(staging, r.paths.report);
      if (fs.existsSync(report)) fs.writeFileSync(report, fs.readFileSync(report, 'utf8').split(staging).join(target));
    }
    const doc = { ...s, command: 'llama-moe demo', mode: o.quick ? 'quick' : 'full' };
    fs.writeFileSync(path.join(staging, SUMMARY_NAME), JSON.stringify(doc, null, 2) + '\n');
    fs.writeFileSync(path.join(staging, 'summary.txt'), renderSummaryText(s) + '\n' + renderContinuationsText(s, prompt.document));
    fs.writeFileSync(path.join(staging, INDEX_NAME), renderIndexHtml(s, `llama-moe demo${o.quick ? ' (quick)' : ''}`));
    return s;
  }, { replace: o.overwrite });
  const ms = performance.now() - t0;
  if (!args.quiet) {
    args.io.stdout(`\nPer-domain perplexity on the Brown validation split (lower is better); 'active' = share of FFN neurons per token:\n\n`);
    args.io.stdout(renderSummaryText(summary));
    args.io.stdout(`\n${renderContinuationsText(summary, prompt.document)}`);
    args.io.stdout(`\ndemo finished in ${formatDuration(ms)}; outputs in ${o.out}\n`);
  }
  args.io.stdout(`report: ${path.join(target, INDEX_NAME)}\n`);
  return 0;
}

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'Split the shipped dense LLaMA into MoEs, train them and compare (the paper in minutes)',
  description:
    'Runs the LLaMA-MoE pipeline end to end on real English text that ships with llama-moe, on a laptop CPU: the dense ' +
    'LLaMA in assets/brown-model (5.6 M parameters, pre-trained on the Brown Corpus train split) is split into 8 experts ' +
    'with top-2 routing twice, with the random and the clustering neuron partition (LLaMA-MoE format); each MoE gets the ' +
    'same short continual pre-training on the Brown train split (15 genres as 15 domains) with Sheared-LLaMA dynamic ' +
    'domain weights; the dense model and each MoE before and after training are scored by per-domain perplexity on the ' +
    'validation split, and each continues the same test-set prompt (greedy). ' +
    'The folder (built in a staging folder and renamed into place at the end) holds each run\'s split and trained ' +
    'models, metrics.jsonl and report.html, plus summary.json, summary.txt and index.html. 2 to 4 minutes on 2 cores; ' +
    '--quick takes well under a minute.',
  usage: ['demo [--out DIR] [--steps N] [--quick] [--overwrite]'],
  options: [
    { name: 'out', type: 'string', default: 'llama-moe-demo', valueName: 'DIR', description: 'New folder for the demo\'s outputs (default ./llama-moe-demo).' },
    { name: 'steps', type: 'int', min: 1, valueName: 'N', description: `Training steps per MoE (default ${BROWN_RECIPE.demo.steps}; ${BROWN_RECIPE.quick.steps} with --quick).` },
    { name: 'quick', type: 'boolean', description: `A much smaller budget (shorter sequences, ${BROWN_RECIPE.quick.evalBlocks} validation block per domain): a smoke test in seconds.` },
    { name: 'overwrite', type: 'boolean', description: 'Replace --out if it holds a previous demo (its summary.json); any other non-empty folder is refused.' },
    { name: 'seed', type: 'int', min: 0, default: 0, valueName: 'S', description: 'Seed of the splits, the data order and the gate noise.' },
    { name: 'model', type: 'string', valueName: 'DIR', description: 'Dense LLaMA folder to start from (default: the shipped Brown model); its tokenizer packs the Brown Corpus.' },
  ],
  examples: ['llama-moe demo', 'llama-moe demo --quick --out /tmp/demo', 'llama-moe demo --out runs/demo --steps 300 --overwrite'],
  run,
};
