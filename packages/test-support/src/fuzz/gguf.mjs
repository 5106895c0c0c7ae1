/** Fuzz targets of GGUF: the reader (GgufFile) and a GGUF as a model source (loadLlamaGguf and its tokenizer). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isA } from './mutators.mjs';

const NASTY64 = [0n, 1n, 31n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 62n, 2n ** 63n, 2n ** 64n - 1n];
const NASTY32 = [0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 30, 31, 0x7fffffff, 0xffffffff];

export function ggufTargets({ fc, llama, tmp, ioTyped }) {
  const targets = [];
  // --- GGUF reader ---------------------------------------------------------------------------
  // A valid file (random metadata of every type, F32 / F16 / BF16 / Q8_0 tensors) then lies:
  // nasty u64 / u32 values written over header fields, byte flips, truncation, random bytes.
  let gdir;
  targets.push({
    name: 'gguf',
    arb: fc.record({
      tensors: fc.array(
        fc.record({ type: fc.constantFrom('F32', 'F16', 'BF16', 'Q8_0'), rows: fc.integer({ min: 1, max: 3 }), cols: fc.constantFrom(1, 3, 32, 64), dims: fc.integer({ min: 1, max: 3 }) }),
        { maxLength: 4 },
      ),
      meta: fc.array(fc.constantFrom('u32', 'str', 'strs', 'f32s', 'bool', 'u64', 'i64s', 'align'), { maxLength: 5 }),
      lies: fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant('u64'), at: fc.nat(), v: fc.constantFrom(...NASTY64) }),
          fc.record({ kind: fc.constant('u32'), at: fc.nat(), v: fc.constantFrom(...NASTY32) }),
          fc.record({ kind: fc.constant('flip'), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
          fc.record({ kind: fc.constant('truncate'), at: fc.nat(), v: fc.constant(0) }),
        ),
        { maxLength: 3 },
      ),
      random: fc.option(fc.uint8Array({ maxLength: 200 }), { freq: 10 }),
    }),
    setup() {
      gdir = tmp('gguf');
    },
    run(c) {
      let bytes;
      if (c.random) {
        bytes = new Uint8Array(c.random.byteLength + 4);
        bytes.set([0x47, 0x47, 0x55, 0x46]);
        bytes.set(c.random, 4);
      } else {
        const g = llama.gguf;
        const md = [];
        c.meta.forEach((m, i) => {
          const k = `k${i}.${m}`;
          if (m === 'u32') md.push([k, g.u32(i)]);
          else if (m === 'str') md.push([k, g.str('▁x'.repeat(i))]);
          else if (m === 'strs') md.push([k, g.strings(['a', '', 'bc'])]);
          else if (m === 'f32s') md.push([k, g.f32s(Float32Array.of(1, 2))]);
          else if (m === 'bool') md.push([k, g.bool(true)]);
          else if (m === 'u64') md.push([k, g.u64(7)]);
          else if (m === 'i64s') md.push([k, { type: 'ARRAY', itemType: 'INT64', value: [1n, -1n] }]);
          else if (!md.some(([x]) => x === 'general.alignment')) md.push(['general.alignment', g.u32(64)]);
        });
        const tensors = c.tensors.map((t, i) => {
          const cols = t.type === 'Q8_0' && t.cols % 32 !== 0 ? 32 : t.cols;
          const shape = t.dims === 1 ? [cols] : t.dims === 2 ? [t.rows, cols] : [2, t.rows, cols];
          const n = shape.reduce((a, b) => a * b, 1);
          return { name: `blk.${i}.w`, type: t.type, shape, data: Float32Array.from({ length: n }, (_, j) => Math.sin(j + i)) };
        });
        bytes = llama.serializeGguf(md, tensors);
        for (const l of c.lies) {
          const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          // Lies land in the header (where lengths, counts, types and offsets live) most of the time.
          const span = Math.max(1, Math.min(bytes.byteLength, 400));
          if (l.kind === 'u64' && bytes.byteLength >= 8) dv.setBigUint64(l.at % (Math.max(1, Math.min(span, bytes.byteLength - 7))), l.v, true);
          else if (l.kind === 'u32' && bytes.byteLength >= 4) dv.setUint32(l.at % (Math.max(1, Math.min(span, bytes.byteLength - 3))), l.v, true);
          else if (l.kind === 'flip' && bytes.byteLength > 0) bytes[l.at % bytes.byteLength] ^= l.v;
          else if (l.kind === 'truncate') bytes = bytes.subarray(0, l.at % (bytes.byteLength + 1));
        }
      }
      const file = path.join(gdir, 'model.gguf');
      fs.writeFileSync(file, bytes);
      const gf = llama.GgufFile.open(file);
      try {
        gf.metadataJs();
        for (const k of gf.keys()) gf.readTensor(k);
      } finally {
        gf.close();
      }
    },
    allowed: (e) => ioTyped(e) && !String(e.message).includes('\n'),
  });

  // --- GGUF as a model source --------------------------------------------------------------
  // A tiny dense llama GGUF with a tokenizer (what `logits --model FILE.gguf` reads), then lies in
  // its header: nasty u32 / u64 values over counts, lengths, value types, dims and offsets, byte
  // flips, truncation. Property: loadLlamaGguf and the tokenizer rebuilt from tokenizer.ggml.*
  // fail only with typed errors (GgufError / ConfigError / TokenizerError).
  let gmBase = null;
  let gmDir;
  targets.push({
    name: 'gguf model',
    arb: fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('u64'), at: fc.nat(), v: fc.constantFrom(...NASTY64) }),
        fc.record({ kind: fc.constant('u32'), at: fc.nat(), v: fc.constantFrom(...NASTY32) }),
        fc.record({ kind: fc.constant('flip'), at: fc.nat(), v: fc.integer({ min: 1, max: 255 }) }),
        fc.record({ kind: fc.constant('truncate'), at: fc.nat(), v: fc.constant(0) }),
      ),
      { minLength: 0, maxLength: 3 },
    ),
    setup() {
      gmDir = tmp('gguf-model');
      if (!gmBase) {
        const tr = llama.trainLlamaTokenizer(['the experts route tokens to the experts', 'a b c d e f g'], { vocabSize: 300, style: 'llama2', padToVocabSize: true });
        const tok = new llama.Tokenizer({ tokenizerJson: tr.tokenizerJson, tokenizerConfig: tr.tokenizerConfig });
        const cfg = llama.parseLlamaConfig({ ...llama.PRESETS.tiny, vocab_size: 300, hidden_size: 32, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 });
        const p = llama.llamaGgufParts(llama.LlamaForCausalLM.random(cfg, { seed: 1 }), { tokenizer: tok });
        gmBase = llama.serializeGguf(p.metadata, p.tensors);
      }
    },
    run(lies) {
      let bytes = gmBase.slice();
      // The header (metadata with ~300 tokens, then tensor infos) is the first ~8 KB.
      const span = Math.min(bytes.byteLength, 9000);
      for (const l of lies) {
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        if (l.kind === 'u64' && bytes.byteLength >= 8) dv.setBigUint64(l.at % Math.max(1, Math.min(span, bytes.byteLength - 7)), l.v, true);
        else if (l.kind === 'u32' && bytes.byteLength >= 4) dv.setUint32(l.at % Math.max(1, Math.min(span, bytes.byteLength - 3)), l.v, true);
        else if (l.kind === 'flip' && bytes.byteLength > 0) bytes[l.at % Math.min(span, bytes.byteLength)] ^= l.v;
        else if (l.kind === 'truncate') bytes = bytes.subarray(0, l.at % (bytes.byteLength + 1));
      }
      const file = path.join(gmDir, 'model.gguf');
      fs.writeFileSync(file, bytes);
      const m = llama.loadLlamaGguf(file);
      m.logits([1, 2, 3]);
      const g = llama.GgufFile.open(file);
      let files;
      try {
        files = llama.ggufTokenizerFiles(g.metadata, file);
      } finally {
        g.close();
      }
      if (files) new llama.Tokenizer(files).encode('the experts, a b c');
    },
    allowed: (e) => (ioTyped(e) || isA(e, llama?.TokenizerError)) && !String(e.message).includes('\n'),
  });
  return targets;
}
