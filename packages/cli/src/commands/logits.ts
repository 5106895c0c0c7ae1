/**
 * `llama-moe logits`: run one forward pass and save the logits [T, V] as a float32 .npy file,
 * for comparison with PyTorch / transformers reference dumps.
 */
import { writeNpy } from '@llama-moe/llama-model/node';
import { CliError, UsageError } from '../errors.js';
import { checkOutputFile, ensureParentDir } from '../paths.js';
import { removeStaleStaging } from '../staging-leftovers.js';
import { loadFolderTokenizer, loadModelFolder, parseTokenList } from '../model-io.js';
import { formatDuration } from '../format.js';
import { JSON_OPTION, type CommandArgs, type CommandSpec } from '../command.js';

export interface LogitsSummary {
  out: string;
  dtype: 'float32';
  shape: [number, number];
  tokens: number[];
  /** Per position: the most likely next token and its logit. */
  argmax: number[];
  max: number[];
  min: number;
  mean: number;
  ms: number;
}

/** Exactly one of two options; a UsageError naming both otherwise. */
export function exactlyOne(args: CommandArgs, a: string, b: string): 'a' | 'b' {
  const hasA = args.given.has(a);
  const hasB = args.given.has(b);
  if (hasA && hasB) throw new UsageError(`--${a} and --${b} cannot be used together`, `pass one of them`);
  if (!hasA && !hasB) throw new UsageError(`missing input: pass --${a} or --${b}`, `see 'llama-moe ${args.command} --help'`);
  return hasA ? 'a' : 'b';
}

export const logitsCommand: CommandSpec = {
  name: 'logits',
  summary: 'Save the logits [T, V] of a token sequence as a float32 .npy file',
  description:
    'Loads the model, runs one forward pass over the tokens (no KV cache, eval mode) and writes the logits as a ' +
    'float32 NumPy array of shape [T, V] (written atomically). The tokens are given as ids (--tokens) or as text ' +
    '(--prompt) encoded with the model folder\'s tokenizer.json (BOS added as the tokenizer does, unless --no-add-bos). ' +
    'Compare with transformers: np.load(FILE) vs model(torch.tensor([ids])).logits[0].',
  usage: ['logits --model DIR (--tokens IDS | --prompt TEXT) --out FILE.npy [--json]'],
  options: [
    { name: 'model', type: 'string', required: true, valueName: 'DIR', description: 'Model folder (Hugging Face layout), or a dense llama GGUF file.' },
    { name: 'tokens', type: 'string', valueName: 'IDS', description: 'Comma-separated token ids, e.g. 1,5,9.' },
    { name: 'prompt', type: 'string', valueName: 'TEXT', description: 'Text to encode with the model\'s tokenizer.json.' },
    { name: 'add-bos', type: 'boolean', description: 'With --prompt: prepend BOS (default: the tokenizer\'s add_bos_token).' },
    { name: 'out', type: 'string', required: true, valueName: 'FILE.npy', description: 'Output .npy file (replaced atomically if it exists).' },
    JSON_OPTION,
  ],
  examples: [
    'llama-moe logits --model models/tiny --tokens 1,5,9 --out logits.npy',
    'llama-moe logits --model models/tiny --prompt "The quiet river" --out logits.npy --json',
  ],
  async run(args: CommandArgs) {
    const o = args.options as { model: string; tokens?: string; prompt?: string; out: string; json?: boolean; 'add-bos'?: boolean };
    const which = exactlyOne(args, 'tokens', 'prompt');
    if (!o.out.endsWith('.npy')) throw new UsageError(`--out ${o.out}: must end with .npy`, `e.g. --out ${o.out.replace(/\.[^./]*$/, '')}.npy`);
    if (which === 'a' && o.tokens!.trim() === '') throw new UsageError('--tokens is empty', 'pass comma-separated token ids, e.g. --tokens 1,5,9');
    if (which === 'b' && o.prompt === '') throw new UsageError('--prompt is empty', 'pass some text, or use --tokens');
    checkOutputFile(o.out);
    removeStaleStaging(o.out, (l) => args.io.stderr(`llama-moe ${args.command}: ${l}\n`));
    const { model, config } = await loadModelFolder(o.model);
    let ids: number[];
    if (which === 'a') ids = parseTokenList(o.tokens!, '--tokens', config.vocab_size);
    else {
      const tok = loadFolderTokenizer(o.model);
      if (!tok) throw new CliError(`--model ${o.model}: no tokenizer.json, so --prompt cannot be encoded`, 'pass token ids with --tokens, or add tokenizer.json to the folder');
      ids = tok.encode(o.prompt!, args.given.has('add-bos') ? { addBos: o['add-bos'] } : {});
      if (ids.length === 0) throw new UsageError('--prompt encodes to no tokens', 'pass a longer prompt or keep BOS');
      for (const id of ids) if (id >= config.vocab_size) throw new CliError(`--prompt: the tokenizer produced id ${id}, outside the model's vocab_size ${config.vocab_size}`, 'use the tokenizer that belongs to this model');
    }
    if (ids.length > config.max_position_embeddings) {
      throw new UsageError(`${ids.length} tokens exceed the model's max_position_embeddings ${config.max_position_embeddings}`, 'pass fewer tokens');
    }
    const t0 = performance.now();
    const logits = model.logits(ids).f32();
    const ms = performance.now() - t0;
    const T = ids.length, V = config.vocab_size;
    /** [T, V] */
    const data = logits.length === T * V ? logits : Float32Array.from(logits.subarray(0, T * V));
    ensureParentDir(o.out);
    writeNpy(o.out, data, [T, V]);
    const argmax: number[] = [];
    const max: number[] = [];
    let lo = Infinity, sum = 0;
    for (let t = 0; t < T; t++) {
      let b = 0;
      for (let v = 0; v < V; v++) {
        const x = data[t * V + v]!;
        if (x > data[t * V + b]!) b = v;
        if (x < lo) lo = x;
        sum += x;
      }
      argmax.push(b);
      max.push(data[t * V + b]!);
    }
    const summary: LogitsSummary = { out: o.out, dtype: 'float32', shape: [T, V], tokens: ids, argmax, max, min: lo, mean: sum / (T * V), ms };
    if (o.json) args.io.stdout(JSON.stringify(summary) + '\n');
    else if (!args.quiet) args.io.stdout(`wrote ${o.out}: float32 [${T}, ${V}] logits of ${T} tokens in ${formatDuration(ms)}; argmax ${argmax.join(',')}\n`);
    return 0;
  },
};
