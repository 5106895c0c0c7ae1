/** Fuzz target of config.json (parseLlamaConfig, readLlamaConfig, serializeLlamaConfig). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyJsonEdits, applyTextEdit, isA, jsonEditsArb, textEditArb } from './mutators.mjs';

/** Small but real: a tiny LLaMA config as transformers writes it. */
function baseConfigJson(llama) {
  const cfg = llama.presetConfig('tiny', { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 64 });
  return JSON.parse(llama.serializeLlamaConfig(cfg));
}

const ROPE_SCALINGS = [
  null,
  { type: 'linear', factor: 2 },
  { rope_type: 'linear', factor: 2 },
  { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  { rope_type: 'dynamic', factor: 2 },
  { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 4096 },
  { rope_type: 'longrope', short_factor: [1], long_factor: [2] },
  { rope_type: 'llama3', factor: 0 },
  { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 8192 },
  { rope_type: 'linear', factor: -1 },
  { factor: 2 },
  'linear',
  [],
];


export function configTargets({ fc, llama, tmp }) {
  const targets = [];
  // --- config.json ------------------------------------------------------------------------
  let cdir;
  targets.push({
    name: 'config.json',
    arb: fc.record({
      rope: fc.nat({ max: ROPE_SCALINGS.length - 1 }),
      edits: fc.option(jsonEditsArb(fc), { nil: null }),
      text: fc.option(textEditArb(fc), { nil: null }),
      viaFile: fc.boolean(),
    }),
    setup() {
      cdir = tmp('cfg');
    },
    run(c) {
      const base = baseConfigJson(llama);
      base.rope_scaling = ROPE_SCALINGS[c.rope];
      const obj = c.edits ? applyJsonEdits(base, c.edits) : base;
      if (!c.text && !c.viaFile) {
        const cfg = llama.parseLlamaConfig(obj);
        llama.serializeLlamaConfig(cfg);
        return;
      }
      const text = applyTextEdit(JSON.stringify(obj, null, 2) ?? 'null', c.text ?? { kind: 'none', pos: 0, len: 0, str: '' });
      fs.writeFileSync(path.join(cdir, 'config.json'), text);
      const cfg = llama.readLlamaConfig(cdir);
      llama.serializeLlamaConfig(cfg);
    },
    allowed: (e) => isA(e, llama.ConfigError),
  });
  return targets;
}
