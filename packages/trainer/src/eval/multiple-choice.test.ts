import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tensor, type Tensor as T } from '@llama-moe/tensor-core';
import { byteLevelTokenizer } from '@llama-moe/data-sampler';
import { causalLmLoss } from '@llama-moe/llama-model';
import { encodePair, evaluateMultipleChoice, loglikelihood, meanStderr, parseMcJsonl } from './multiple-choice.js';
import { tinyModel } from '../../test/support/fixtures.js';
import { TrainerError } from '../errors.js';

const tok = byteLevelTokenizer();
const V = 259;
const L = Math.log(V);

/** A bigram "LM": logits[b, t] = table[ids[b, t]] (all zeros = uniform). */
function bigram(table: Float32Array = new Float32Array(V * V)) {
  return {
    config: { max_position_embeddings: 64 },
    forward(ids: T) {
      const [B, Tn] = ids.shape as [number, number];
      const x = ids.i32();
      const out = new Float32Array(B * Tn * V);
      for (let i = 0; i < B * Tn; i++) out.set(table.subarray(x[i]! * V, x[i]! * V + V), i * V);
      return { logits: new Tensor(out, [B, Tn, V]) };
    },
  };
}

const id = (ch: string) => tok.encode(ch)[0]!;

describe('lm-eval multiple choice', () => {
  it('_encode_pair: trailing context whitespace moves to the continuation; empty context becomes [BOS]', () => {
    expect(encodePair(tok, 'Question:', ' yes')).toEqual({ contextEnc: tok.encode('Question:'), continuationEnc: tok.encode(' yes') });
    expect(encodePair(tok, 'Question: ', ' yes')).toEqual({ contextEnc: tok.encode('Question:'), continuationEnc: tok.encode('  yes') });
    expect(encodePair(tok, 'Q:\n \t', ' no')).toEqual({ contextEnc: tok.encode('Q:'), continuationEnc: tok.encode('\n \t no') });
    expect(encodePair(tok, '', ' yes')).toEqual({ contextEnc: [1], continuationEnc: tok.encode(' yes') });
    expect(encodePair(tok, 'ab', ' c', true)).toEqual({ contextEnc: [1, ...tok.encode('ab')], continuationEnc: tok.encode(' c') });
  });

  it('uniform model: acc prefers the shortest continuation, acc_norm divides by choice characters (not bytes)', () => {
    const docs = [
      { context: 'Pick', choices: ['a', 'bbb'], gold: 0 }, // acc 1, acc_norm 0
      { context: 'Pick', choices: ['cc', 'd'], gold: 0 }, // acc 0, acc_norm 1
      { context: 'Pick', choices: ['e', 'ff'], gold: 1 }, // acc 0, acc_norm 1
      { context: 'Pick', choices: ['gg', 'hhhh', 'i'], gold: 2 }, // acc 1, acc_norm 0
      { context: 'Pick', choices: ['x', 'y'], gold: 1 }, // tie → first index: acc 0, acc_norm 0
      { context: 'Pick', choices: ['é', 'ab'], gold: 1 }, // é is 2 bytes but 1 character: acc tie → 0, acc_norm → 'ab'
    ];
    const r = evaluateMultipleChoice(bigram(), tok, docs);
    expect(r.docs.map((d) => d.acc)).toEqual([1, 0, 0, 1, 0, 0]);
    expect(r.docs.map((d) => d.accNorm)).toEqual([0, 1, 1, 0, 0, 1]);
    expect(r.docs[0]!.lls[0]).toBeCloseTo(-2 * L, 10); // ' a'
    expect(r.docs[0]!.lls[1]).toBeCloseTo(-4 * L, 10); // ' bbb'
    expect(r.docs[5]!.lls[0]).toBeCloseTo(-3 * L, 10); // ' é' is 3 byte tokens
    expect(r.acc).toBeCloseTo(2 / 6, 12);
    expect(r.acc_norm).toBeCloseTo(3 / 6, 12);
    // Sample std (n − 1) / √n as lm-eval's mean_stderr.
    expect(r.acc_stderr).toBeCloseTo(Math.sqrt(((2 / 6) * (4 / 6) * 6) / 5) / Math.sqrt(6), 12);
    expect(r.n).toBe(6);
  });

  it('bigram preferences: log-probs of continuation tokens given the context, and is_greedy', () => {
    const table = new Float32Array(V * V);
    table[id(' ') * V + id('c')] = 5; // after a space, 'c' is likely
    table[id('c') * V + id('d')] = 3;
    const m = bigram(table);
    const r = evaluateMultipleChoice(m, tok, [{ context: 'ab', choices: ['x', 'c', 'cd'], gold: 2 }]);
    const lseSpace = Math.log(V - 1 + Math.exp(5));
    const lseC = Math.log(V - 1 + Math.exp(3));
    expect(r.docs[0]!.lls[0]).toBeCloseTo(-L + (0 - lseSpace), 6);
    expect(r.docs[0]!.lls[1]).toBeCloseTo(-L + (5 - lseSpace), 6);
    expect(r.docs[0]!.lls[2]).toBeCloseTo(-L + (5 - lseSpace) + (3 - lseC), 6);
    expect(r.docs[0]!.pred).toBe(1);
    // Per character, ' cd' ((ll_c + log p(d|c)) / 2) beats ' c' (ll_c / 1).
    expect(r.docs[0]!.predNorm).toBe(2);
    expect(r.acc).toBe(0);
    expect(r.acc_norm).toBe(1);
    // ' ' after 'b' is not the argmax (all logits tie → token 0), so none is greedy.
    expect(r.docs[0]!.isGreedy).toEqual([false, false, false]);
    const g = loglikelihood(m, tok.encode(' '), tok.encode('cd'), 64);
    expect(g.isGreedy).toBe(true);
    expect(g.ll).toBeCloseTo(5 - lseSpace + 3 - lseC, 6);
  });

  it('property: on a real model the score equals −Σ token CE of the continuation; truncation keeps the last max_length tokens', () => {
    const model = tinyModel(5);
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ minLength: 1, maxLength: 6 }), (ctx, cont) => {
      const { contextEnc, continuationEnc } = encodePair(tok, ctx, ' ' + cont);
      const all = [...contextEnc, ...continuationEnc];
      // The full-sequence reference needs every continuation token scorable: no truncation (multi-byte
      // characters can exceed max_length + 1 tokens; truncation is checked below) and a non-empty
      // context (a whitespace-only context is moved into the continuation, as lm-eval's
      // _encode_pair does, and then the first continuation token has nothing to be predicted from).
      fc.pre(all.length <= 65 && contextEnc.length > 0);
      const { ll } = loglikelihood(model, contextEnc, continuationEnc, 64);
      // Reference: causalLmLoss over the sequence with only the continuation targets kept.
      const ids = new Tensor(Int32Array.from(all), [1, all.length]);
      const mask = new Uint8Array(all.length);
      for (let i = contextEnc.length; i < all.length; i++) mask[i] = 1;
      const logits = model.logits(Int32Array.from(all));
      const ce = causalLmLoss(logits, ids, mask).item();
      expect(ll).toBeCloseTo(-ce * continuationEnc.length, 3);
    }), { numRuns: 20 });
    // max_length 3: the input is the last 4 tokens minus the final one: 'efg' of 'abcdefgh'.
    const cEnc = tok.encode('abcdef'), kEnc = tok.encode('gh');
    const short = loglikelihood(model, cEnc, kEnc, 3).ll;
    const direct = loglikelihood(model, tok.encode('ef'), kEnc, 64).ll;
    expect(Math.abs(short - loglikelihood(model, cEnc, kEnc, 64).ll)).toBeGreaterThan(1e-4);
    expect(short).toBeCloseTo(direct, 5);
  });

  it('parses JSONL tasks and names the bad line', () => {
    expect(parseMcJsonl('{"context":"a","choices":["b","c"],"gold":1}\n\n{"context":"","choices":["x","y"],"gold":0}\n')).toHaveLength(2);
    expect(() => parseMcJsonl('{"context":"a","choices":["b","c"],"gold":2}', 'task.jsonl')).toThrow(/task\.jsonl:1: "gold" must be an index/);
    expect(() => parseMcJsonl('{"context":"a","choices":["b","c"],"gold":0}\nnope', 'task.jsonl')).toThrow(TrainerError);
    expect(() => parseMcJsonl('{"context":"a","choices":["b"],"gold":0}', 't')).toThrow(/t:1: "choices"/);
    expect(meanStderr([1, 0, 1, 0])).toBeCloseTo(Math.sqrt(1 / 3) / 2, 12);
  });
});
