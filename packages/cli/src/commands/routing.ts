/**
 * `llama-moe routing --model DIR --data DIR [--out report.html] [--json] [--dense]`: routing
 * statistics of an MoE model on a packed dataset, per layer and per domain (routing-stats.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_NAME, holdoutValidation } from '@llama-moe/data-sampler';
import { loadAnyModel } from '@llama-moe/expert-partition/node';
import { atomicWriteFile, readLlamaConfig } from '@llama-moe/llama-model/node';
import { CliError } from '../errors.js';
import { checkOutputFile, requireInputDir } from '../paths.js';
import { dataSources, modelTokenizer } from '../pipeline.js';
import { checkDataTokenizer } from '../tokenizer-check.js';
import { routingStatistics } from '../routing-stats.js';
import { routingHtml, routingText } from '../routing-report.js';
import { JSON_OPTION, type CommandArgs, type CommandSpec } from '../command.js';

export async function run(args: CommandArgs): Promise<number> {
  const o = args.options as { model: string; data: string; out?: string; json?: boolean; dense?: boolean; 'max-blocks'?: number; 'batch-size': number; 'allow-tokenizer-mismatch'?: boolean };
  if (o.out !== undefined && !/\.html?$/i.test(o.out)) throw new CliError(`--out ${o.out}: must end with .html`, `e.g. --out ${o.out.replace(/\.[^./]*$/, '')}.html`, 2);
  requireInputDir(o.model, '--model', 'model folder');
  if (!fs.existsSync(path.join(o.model, 'config.json'))) throw new CliError(`--model ${o.model}: no config.json in the folder`, 'pass a llama_moe or mixtral model folder');
  const cfg = readLlamaConfig(o.model);
  if (cfg.model_type !== 'llama_moe' && cfg.model_type !== 'mixtral') throw new CliError(`--model ${o.model}: is a dense ${cfg.model_type} model; it has no routing`, 'pass a model written by `llama-moe split`');
  requireInputDir(o.data, '--data', 'dataset folder');
  if (!fs.existsSync(path.join(o.data, MANIFEST_NAME))) throw new CliError(`--data ${o.data}: no ${MANIFEST_NAME}; not a packed dataset`, 'prepare it with `llama-moe data prepare`');
  if (o.out !== undefined) checkOutputFile(o.out);
  checkDataTokenizer(o.data, o.model, { dataOption: '--data', modelOption: '--model', allowMismatch: !!o['allow-tokenizer-mismatch'], warn: (l) => args.io.stderr(`llama-moe routing: ${l}\n`) });
  const model = loadAnyModel(o.model);
  const { sampler } = modelTokenizer(o.model);
  const data = await dataSources(o.data);
  const { validation } = await holdoutValidation({ sources: data.sources, tokenizer: sampler, seqLen: data.seqLen!, blocksPerDomain: o['max-blocks'] ?? Number.MAX_SAFE_INTEGER, allowFewer: o['max-blocks'] === undefined });
  const report = routingStatistics(model, validation, { batchSize: o['batch-size'], dense: !!o.dense });
  if (o.out !== undefined) {
    fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
    atomicWriteFile(o.out, routingHtml(report, `Routing of ${path.basename(path.resolve(o.model))} on ${path.basename(path.resolve(o.data))}`));
  }
  if (o.json) args.io.stdout(JSON.stringify({ model: o.model, data: o.data, ...report }, null, 2) + '\n');
  else args.io.stdout(routingText(report));
  if (o.out !== undefined && !args.quiet) args.io.stderr(`wrote ${o.out}\n`);
  return 0;
}

export const routingCommand: CommandSpec = {
  name: 'routing',
  summary: 'Routing statistics of an MoE model on a dataset: expert load, entropy, top-k overlap per layer and domain',
  description:
    'Runs the model over a packed dataset (every block unless --max-blocks) and reports, per layer and per domain: each ' +
    "expert's share of the token-to-expert assignments (load), the mean routing entropy per token (nats), the tokens a " +
    'capacity-limited gate dropped, and for every pair of domains the overlap of their top-k most loaded experts ' +
    '(|A ∩ B| / k). With --dense every expert also runs on every token, and the report shows how often each expert ' +
    "holds the FFN's most active neuron (largest |activation|): which experts the data would use without the gate. " +
    'Text on stdout (or --json); --out also writes a self-contained HTML page of heatmaps.',
  usage: ['routing --model DIR --data DIR [--out report.html] [--json] [--dense] [--max-blocks N]'],
  options: [
    { name: 'model', type: 'string', required: true, valueName: 'DIR', description: 'MoE model folder (llama_moe or mixtral).' },
    { name: 'data', type: 'string', required: true, valueName: 'DIR', description: "Packed dataset folder (from `llama-moe data prepare`, with the model's tokenizer)." },
    { name: 'out', type: 'string', valueName: 'FILE.html', description: 'Also write an HTML report of heatmaps (replaced atomically).' },
    { name: 'dense', type: 'boolean', description: 'Also count, per domain, how often each expert holds the most active neuron (runs every expert on every token).' },
    { name: 'max-blocks', type: 'int', min: 1, description: 'At most N blocks per domain (default: every block of --data).' },
    { name: 'batch-size', type: 'int', min: 1, default: 4, description: 'Blocks per forward pass (default 4).' },
    { name: 'allow-tokenizer-mismatch', type: 'boolean', description: "Use --data even if it was packed with another tokenizer than the model's (default: refuse)." },
    JSON_OPTION,
  ],
  examples: [
    'llama-moe routing --model models/tiny-moe --data data/packed',
    'llama-moe routing --model runs/tiny-moe/final --data data/packed --dense --out runs/tiny-moe/routing.html',
    'llama-moe routing --model models/tiny-moe --data data/packed --max-blocks 8 --json',
  ],
  run,
};
