/** Fuzz target of tokenizer.json (trained llama2 / llama3 tokenizers, edited and loaded). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyJsonEdits, applyTextEdit, isA, jsonEditsArb, textEditArb } from './mutators.mjs';

export function tokenizerTargets({ fc, llama, tmp }) {
  const targets = [];
  // --- tokenizer.json ---------------------------------------------------------------------
  let tdir;
  let bases;
  targets.push({
    name: 'tokenizer.json',
    arb: fc.record({
      style: fc.nat({ max: 1 }),
      edits: fc.option(jsonEditsArb(fc), { nil: null }),
      focus: fc.constantFrom('any', 'model', 'pre_tokenizer', 'decoder', 'normalizer', 'added_tokens', 'post_processor'),
      text: fc.option(textEditArb(fc), { nil: null }),
      input: fc.oneof(fc.string({ maxLength: 24 }), fc.constantFrom('Hello wörld 東京 🙂', '  \n\t', '<s>x</s>', '\ud800a')),
    }),
    setup() {
      tdir = tmp('tok');
      const texts = llama.sampleTokenizerTexts({ seed: 1, count: 40 });
      bases = ['llama2', 'llama3'].map((style) => {
        const t = llama.trainLlamaTokenizer(texts, { vocabSize: style === 'llama2' ? 300 : 400, style });
        return { tokenizerJson: JSON.parse(llama.serializeTokenizerJson(t.tokenizerJson)), tokenizerConfig: t.tokenizerConfig };
      });
    },
    run(c) {
      const base = bases[c.style];
      let tj = base.tokenizerJson;
      if (c.edits) {
        if (c.focus === 'any' || !(c.focus in tj) || tj[c.focus] === null || typeof tj[c.focus] !== 'object') tj = applyJsonEdits(tj, c.edits);
        else {
          // Aim at one component (the vocab alone has hundreds of paths).
          tj = { ...tj, [c.focus]: applyJsonEdits(tj[c.focus], c.edits) };
        }
      }
      let text = JSON.stringify(tj) ?? 'null';
      if (c.text) text = applyTextEdit(text, c.text);
      fs.writeFileSync(path.join(tdir, 'tokenizer.json'), text);
      fs.writeFileSync(path.join(tdir, 'tokenizer_config.json'), JSON.stringify(base.tokenizerConfig));
      const tok = llama.loadTokenizer(tdir);
      const ids = tok.encode(c.input);
      tok.decode(ids);
    },
    allowed: (e) => isA(e, llama.TokenizerError),
  });
  return targets;
}
