/**
 * Section 5, data (@llama-moe/data-sampler): tokenise-and-pack throughput (benchPack) on ~20 MB
 * (4 MB for the slow @huggingface/tokenizers engine) of the generated SlimPajama-like corpus, with the byte-level tokenizer and with a generated
 * LLaMA-2-style BPE tokenizer (llama-model's trainLlamaTokenizer) in both of its engines,
 * adapted to the data-sampler interface exactly as `llama-moe data prepare` does.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, attempt, log, pkg, row } from './util.mjs';

const MB = 20;
/** Corpus size for the @huggingface/tokenizers engine (slow: see below). */
const HF_MB = 4;
/** Requested vocab; the sample texts hold fewer distinct merges, so the trained vocab is smaller (reported). */
const VOCAB = 4096;
const TEXTS = 4000;
export const TOKENIZER_DIR = join(CACHE_DIR, `tokenizer-llama2-${VOCAB}`);

/**
 * Train (or reuse) the generated LLaMA-2-style tokenizer and save its files in TOKENIZER_DIR,
 * so child processes can load it like `data prepare --tokenizer` does. Returns the vocab size.
 */
export async function ensureTokenizer() {
  const lm = await pkg('llama-model');
  const stamp = join(TOKENIZER_DIR, 'tokenizer.json');
  if (existsSync(stamp)) {
    try {
      return lm.loadTokenizer(TOKENIZER_DIR, { engine: 'native' }).vocabSize;
    } catch {
      rmSync(TOKENIZER_DIR, { recursive: true, force: true });
    }
  }
  const t = lm.trainLlamaTokenizer(lm.sampleTokenizerTexts({ count: TEXTS }), { vocabSize: VOCAB, style: 'llama2' });
  // each file is written atomically; tokenizer.json (the stamp above) goes first, so a crash can
  // at worst leave a folder whose load fails and is rebuilt
  lm.saveTokenizerFiles(TOKENIZER_DIR, { tokenizerJson: t.tokenizerJson, tokenizerConfig: t.tokenizerConfig, specialTokensMap: t.specialTokensMap });
  return t.vocabSize;
}

export async function dataSection() {
  const rows = [];
  const ds = await pkg('data-sampler');
  const packRows = (label, r, note) => [
    row(`tokenise+pack ${label}: MB/s`, r.mbPerSec, null, 'MB/s', { note: `${(r.bytes / 1e6).toFixed(1)} MB, ${r.documents} documents -> ${r.blocks} blocks of 2048 in ${r.seconds.toFixed(2)} s${note ? `; ${note}` : ''}` }),
    row(`tokenise+pack ${label}: tokens/s`, r.tokensPerSec, null, 'tok/s', { note: `${r.tokens} tokens` }),
  ];
  const expect = (label) => [{ name: `tokenise+pack ${label}: MB/s`, unit: 'MB/s' }, { name: `tokenise+pack ${label}: tokens/s`, unit: 'tok/s' }];

  log(`data: benchPack ${MB} MB, byte-level tokenizer`);
  await attempt(rows, expect('byte-level tokenizer'), () => packRows('byte-level tokenizer', ds.benchPack({ mb: MB }), 'id = byte + 3'));

  // @huggingface/tokenizers runs at ~0.3-0.6 MB/s here, so it gets a smaller corpus to keep the run short
  for (const [engine, mb] of [['hf', HF_MB], ['native', MB]]) {
    const label = `LLaMA-2 BPE tokenizer (${engine} engine)`;
    log(`data: benchPack ${mb} MB, ${label}`);
    await attempt(rows, expect(label), async () => {
      const lm = await pkg('llama-model');
      const cli = await pkg('cli');
      const vocab = await ensureTokenizer();
      const tok = cli.samplerTokenizer(lm.loadTokenizer(TOKENIZER_DIR, { engine }), TOKENIZER_DIR);
      const what = engine === 'hf' ? '@huggingface/tokenizers, the default of data prepare' : "llama-model's own BPE pipeline";
      return packRows(label, ds.benchPack({ mb, tokenizer: tok }), `generated tokenizer, vocab ${vocab}, ${what}`);
    });
  }
  return rows;
}
