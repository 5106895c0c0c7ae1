/**
 * Multiple-choice scoring with lm-evaluation-harness semantics (`output_type: multiple_choice`):
 * - each choice becomes the request (context, target_delimiter + choice), target_delimiter " ";
 * - `_encode_pair`: trailing whitespace of the context moves to the front of the continuation;
 *   whole = encode(context + continuation), context_enc = encode(context), continuation_enc =
 *   whole[len(context_enc):]; an empty context is replaced by [BOS] (lm-eval's prefix_token_id);
 * - the input is (context_enc + continuation_enc)[-(max_length + 1):][:-1] and the score is the
 *   sum of log-softmax log-probs of the continuation tokens (plus is_greedy);
 * - acc = [argmax(lls) == gold], acc_norm = [argmax(lls / len(choice)) == gold] where len is the
 *   choice string's length in characters (Python len: code points), first index on ties (np.argmax);
 * - stderr = sample standard deviation (n − 1) / √n, lm-eval's `mean_stderr`.
 * The tokenizer's encode must not add BOS (lm-eval's default add_bos_token=False for LLaMA);
 * pass `addBos: true` to prepend it to every encoding, as lm-eval's add_bos_token=True.
 */
import { readFileSync } from 'node:fs';
import { indices, noGrad } from '@llama-moe/tensor-core';
import type { ScoringModel } from '../model.js';
import { TrainerError } from '../errors.js';

export interface McTokenizer {
  encode(text: string): number[];
  bosTokenId: number;
}

export interface McDoc {
  context: string;
  choices: string[];
  /** Index of the correct choice. */
  gold: number;
}

export interface McOptions {
  /** Between context and choice. Default ' '. */
  targetDelimiter?: string;
  /** Longest input fed to the model; default the model's max_position_embeddings (2048 otherwise). */
  maxLength?: number;
  addBos?: boolean;
}

export interface McDocResult {
  lls: number[];
  isGreedy: boolean[];
  pred: number;
  predNorm: number;
  acc: 0 | 1;
  accNorm: 0 | 1;
}

export interface McResult {
  n: number;
  acc: number;
  acc_stderr: number;
  acc_norm: number;
  acc_norm_stderr: number;
  docs: McDocResult[];
}

/** Parse `{context, choices, gold}` JSON lines; errors name the file and line. */
export function parseMcJsonl(text: string, file = '<task>'): McDoc[] {
  const docs: McDoc[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let j: unknown;
    try {
      j = JSON.parse(line);
    } catch (e) {
      throw new TrainerError('eval', `${where}: not valid JSON (${(e as Error).message})`);
    }
    const o = j as Record<string, unknown>;
    if (typeof o !== 'object' || o === null) throw new TrainerError('eval', `${where}: expected an object {context, choices, gold}`);
    if (typeof o.context !== 'string') throw new TrainerError('eval', `${where}: "context" must be a string`);
    if (!Array.isArray(o.choices) || o.choices.length < 2 || !o.choices.every((c) => typeof c === 'string')) {
      throw new TrainerError('eval', `${where}: "choices" must be a list of at least 2 strings`);
    }
    if (!Number.isInteger(o.gold) || (o.gold as number) < 0 || (o.gold as number) >= o.choices.length) {
      throw new TrainerError('eval', `${where}: "gold" must be an index into choices (0..${o.choices.length - 1}), got ${JSON.stringify(o.gold)}`);
    }
    docs.push({ context: o.context, choices: o.choices as string[], gold: o.gold as number });
  });
  if (docs.length === 0) throw new TrainerError('eval', `${file}: no documents`);
  return docs;
}

export function loadMcTask(path: string): McDoc[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TrainerError('eval', `${path}: cannot read task file (${(e as Error).message})`);
  }
  return parseMcJsonl(text, path);
}

/** lm-eval's `_encode_pair` for decoder-only models. */
export function encodePair(tok: McTokenizer, context: string, continuation: string, addBos = false): { contextEnc: number[]; continuationEnc: number[] } {
  const enc = (s: string) => (addBos ? [tok.bosTokenId, ...tok.encode(s)] : tok.encode(s));
  if (context === '') return { contextEnc: [tok.bosTokenId], continuationEnc: enc(continuation) };
  const stripped = context.replace(/\s+$/u, '');
  const nSpaces = context.length - stripped.length;
  if (nSpaces > 0) {
    continuation = context.slice(-nSpaces) + continuation;
    context = stripped;
  }
  const whole = enc(context + continuation);
  const contextEnc = enc(context);
  return { contextEnc, continuationEnc: whole.slice(contextEnc.length) };
}

/** Σ log p(continuation | context) and whether greedy decoding would produce it. */
export function loglikelihood(model: ScoringModel, contextEnc: readonly number[], continuationEnc: readonly number[], maxLength: number): { ll: number; isGreedy: boolean } {
  if (continuationEnc.length === 0) return { ll: 0, isGreedy: true };
  const all = [...contextEnc, ...continuationEnc];
  const inp = all.slice(-(maxLength + 1)).slice(0, -1);
  const contLen = Math.min(continuationEnc.length, inp.length);
  const cont = continuationEnc.slice(continuationEnc.length - contLen);
  const T = inp.length;
  const logits = noGrad(() => model.forward(indices(Int32Array.from(inp), [1, T]), { training: false }).logits).f32('loglikelihood');
  const V = logits.length / T;
  let ll = 0;
  let greedy = true;
  for (let j = 0; j < contLen; j++) {
    const o = (T - contLen + j) * V;
    let mx = -Infinity;
    let arg = 0;
    for (let c = 0; c < V; c++) if (logits[o + c]! > mx) { mx = logits[o + c]!; arg = c; }
    let s = 0;
    for (let c = 0; c < V; c++) s += Math.exp(logits[o + c]! - mx);
    const y = cont[j]!;
    if (y < 0 || y >= V) throw new TrainerError('eval', `loglikelihood: token id ${y} is outside the model's vocabulary (${V})`);
    ll += logits[o + y]! - mx - Math.log(s);
    if (arg !== y) greedy = false;
  }
  return { ll, isGreedy: greedy };
}

function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

/** lm-eval's mean_stderr: sample std (n − 1) / √n. */
export function meanStderr(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mu = xs.reduce((a, b) => a + b, 0) / n;
  const v = xs.reduce((a, b) => a + (b - mu) * (b - mu), 0) / (n - 1);
  return Math.sqrt(v) / Math.sqrt(n);
}

export function evaluateMultipleChoice(model: ScoringModel, tok: McTokenizer, docs: readonly McDoc[], opts: McOptions = {}): McResult {
  const delim = opts.targetDelimiter ?? ' ';
  const maxLength = opts.maxLength ?? model.config?.max_position_embeddings ?? 2048;
  const results: McDocResult[] = docs.map((d) => {
    const scored = d.choices.map((c) => {
      const { contextEnc, continuationEnc } = encodePair(tok, d.context, delim + c, opts.addBos);
      return loglikelihood(model, contextEnc, continuationEnc, maxLength);
    });
    const lls = scored.map((s) => s.ll);
    const pred = argmax(lls);
    const predNorm = argmax(lls.map((l, i) => l / [...d.choices[i]!].length));
    return { lls, isGreedy: scored.map((s) => s.isGreedy), pred, predNorm, acc: pred === d.gold ? 1 : 0, accNorm: predNorm === d.gold ? 1 : 0 };
  });
  const acc = results.map((r) => r.acc as number);
  const accNorm = results.map((r) => r.accNorm as number);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { n: results.length, acc: mean(acc), acc_stderr: meanStderr(acc), acc_norm: mean(accNorm), acc_norm_stderr: meanStderr(accNorm), docs: results };
}
