/**
 * `llama-moe generate`: autoregressive generation with a KV cache, streaming text to stdout as
 * tokens arrive (through the tokenizer's DecodeStream, so multi-byte characters split across
 * tokens come out whole) and prefill / decode throughput on stderr at the end.
 */
import { generateSteps, type GenerateResult } from '@llama-moe/llama-model';
import { CliError, UsageError } from '../errors.js';
import { TextStream } from '../text-stream.js';
import { loadFolderTokenizer, loadModelFolder, parseTokenList } from '../model-io.js';
import { exactlyOne } from './logits.js';
import { JSON_OPTION, type CommandArgs, type CommandSpec } from '../command.js';

export interface GenerateJson {
  prompt_tokens: number[];
  tokens: number[];
  text: string | null;
  finish_reason: GenerateResult['finishReason'];
  timing: { prefill_ms: number; decode_ms: number; prefill_tokens_per_s: number; decode_tokens_per_s: number };
}

const rate = (n: number, ms: number): number => (ms > 0 ? (n * 1000) / ms : 0);

export const generateCommand: CommandSpec = {
  name: 'generate',
  summary: 'Generate text from a prompt, streaming tokens to stdout',
  description:
    'Encodes the prompt with the model folder\'s tokenizer.json (or takes token ids), runs one prefill pass and ' +
    'then one decode step per new token with a KV cache, and streams the decoded text to stdout as it is produced. ' +
    'Sampling follows Hugging Face generate(): temperature 0 (the default) is greedy; otherwise temperature, then ' +
    'top-k, then top-p, drawn from a seeded RNG, so a given --seed always gives the same output. Generation stops at ' +
    'an EOS token (unless --ignore-eos) or after --max-new-tokens. Prefill and decode tokens/s go to stderr.',
  usage: ['generate --model DIR (--prompt TEXT | --tokens IDS) --max-new-tokens N [--temperature T --top-p P --top-k K --seed S] [--json]'],
  options: [
    { name: 'model', type: 'string', required: true, valueName: 'DIR', description: 'Model folder (Hugging Face layout), or a dense llama GGUF file.' },
    { name: 'prompt', type: 'string', valueName: 'TEXT', description: 'Prompt text (encoded with the folder\'s tokenizer.json, BOS added).' },
    { name: 'tokens', type: 'string', valueName: 'IDS', description: 'Prompt as comma-separated token ids instead of text.' },
    { name: 'max-new-tokens', type: 'int', required: true, min: 1, description: 'Most new tokens to generate.' },
    { name: 'temperature', type: 'number', min: 0, default: 0, valueName: 'T', description: 'Sampling temperature; 0 = greedy (default).' },
    { name: 'top-p', type: 'number', min: 0, minExclusive: true, max: 1, default: 1, valueName: 'P', description: 'Nucleus sampling: keep the smallest set of tokens with probability mass >= P (1 = off).' },
    { name: 'top-k', type: 'int', min: 0, default: 0, valueName: 'K', description: 'Keep only the K most likely tokens (0 = off).' },
    { name: 'seed', type: 'int', min: 0, default: 0, valueName: 'S', description: 'Seed of the sampler.' },
    { name: 'ignore-eos', type: 'boolean', description: 'Do not stop at EOS (benchmarks).' },
    JSON_OPTION,
  ],
  examples: [
    'llama-moe generate --model models/tiny --prompt "Once upon a time" --max-new-tokens 40',
    'llama-moe generate --model models/tiny --tokens 1,385,423 --max-new-tokens 16 --temperature 0.8 --top-p 0.9 --seed 7',
    'llama-moe generate --model models/tiny --prompt "def f(x):" --max-new-tokens 32 --json',
  ],
  async run(args: CommandArgs) {
    const o = args.options as {
      model: string; prompt?: string; tokens?: string; 'max-new-tokens': number; temperature: number; 'top-p': number; 'top-k': number; seed: number; 'ignore-eos'?: boolean; json?: boolean;
    };
    const which = exactlyOne(args, 'prompt', 'tokens');
    if (which === 'a' && o.prompt === '') throw new UsageError('--prompt is empty', 'pass some text, or use --tokens');
    const { model, config } = await loadModelFolder(o.model);
    const tok = loadFolderTokenizer(o.model);
    let prompt: number[];
    if (which === 'b') prompt = parseTokenList(o.tokens!, '--tokens', config.vocab_size);
    else {
      if (!tok) throw new CliError(`--model ${o.model}: no tokenizer.json, so --prompt cannot be encoded`, 'pass token ids with --tokens, or add tokenizer.json to the folder');
      prompt = tok.encode(o.prompt!);
      if (prompt.length === 0) throw new UsageError('--prompt encodes to no tokens', 'pass a longer prompt');
    }
    if (prompt.length >= config.max_position_embeddings) {
      throw new UsageError(`the prompt has ${prompt.length} tokens, the model's max_position_embeddings is ${config.max_position_embeddings}`, 'pass a shorter prompt');
    }
    // decode's matrix–vector products read the mid-size weights in place, on every core
    await model.pinWeights();
    const stopTokens = o['ignore-eos'] ? [] : tok ? [...tok.eosTokenIds] : undefined;
    const steps = generateSteps(model, prompt, {
      maxNewTokens: o['max-new-tokens'],
      temperature: o.temperature,
      topP: o['top-p'],
      topK: o['top-k'],
      seed: o.seed,
      ...(stopTokens ? { stopTokens } : {}),
    });
    const stream = tok && !o.json ? new TextStream(tok.decodeStream({ skipSpecialTokens: true }), (t) => args.io.stdout(t)) : null;
    let result: GenerateResult;
    let first = true;
    for (;;) {
      const r = steps.next();
      if (r.done) { result = r.value; break; }
      if (o.json) continue;
      if (stream) stream.push(r.value);
      else {
        args.io.stdout(`${first ? '' : ' '}${r.value}`);
        first = false;
      }
    }
    const unfinished = stream ? stream.end() : 0;
    const timing = {
      prefill_ms: result.prefillMs,
      decode_ms: result.decodeMs,
      prefill_tokens_per_s: rate(prompt.length, result.prefillMs),
      decode_tokens_per_s: rate(result.tokens.length, result.decodeMs),
    };
    if (o.json) {
      const out: GenerateJson = {
        prompt_tokens: prompt,
        tokens: result.tokens,
        text: tok ? tok.decode(result.tokens, { skipSpecialTokens: true }) : null,
        finish_reason: result.finishReason,
        timing,
      };
      args.io.stdout(JSON.stringify(out) + '\n');
    } else {
      args.io.stdout('\n');
    }
    if (!args.quiet && !o.json) {
      args.io.stderr(
        `prefill: ${prompt.length} tokens in ${timing.prefill_ms.toFixed(1)} ms (${timing.prefill_tokens_per_s.toFixed(1)} tokens/s); ` +
          `decode: ${result.tokens.length} tokens in ${timing.decode_ms.toFixed(1)} ms (${timing.decode_tokens_per_s.toFixed(1)} tokens/s); finish: ${result.finishReason}` +
          (unfinished ? `; the last ${unfinished} token(s) end inside a UTF-8 character and were not printed (--json lists every token)` : '') + '\n',
      );
    }
    return 0;
  },
};
