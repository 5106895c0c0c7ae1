/** Fuzz targets of the trainer's checkpoint manifests: trainer_state.json, optimizer.safetensors, Trainer.resume. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyByteEdits, applyJsonEdits, applyTextEdit, byteEditsArb, isA, jsonEditsArb, textEditArb } from './mutators.mjs';

export function trainerStateTargets({ fc, llama, data, trainer, tmp }) {
  const targets = [];
  let out;
  let ckDir;
  let pristine;
  let baseState;
  let inputs;
  let shapes;
  const trainerTyped = (e) => isA(e, trainer.TrainerError, llama.CheckpointIoError, data.DataError);
  const trainerSetup = async () => {
    if (out) return;
    out = tmp('trainer');
    const cfg = llama.presetConfig('tiny', { vocab_size: 259, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 32 });
    const tok = data.byteLevelTokenizer();
    const docs = (k) => Array.from({ length: 12 }, (_, i) => `${k} document ${i} `.repeat(1 + (i % 3)));
    inputs = { sources: [{ name: 'github', documents: docs('code') }, { name: 'arxiv', documents: docs('paper') }], tokenizer: tok, progress: null };
    const config = { max_steps: 2, batch_size: 1, grad_accum: 1, seq_len: 8, lr: 1e-3, warmup_steps: 0, save_every: 1, keep_last: 1, eval_every: 0, eval_blocks: 0, seed: 1, quiet: true };
    await trainer.train(config, { ...inputs, model: llama.LlamaForCausalLM.random(cfg, { seed: 1 }), outDir: out });
    ckDir = trainer.latestCheckpoint(out).dir;
    pristine = path.join(out, 'pristine');
    fs.cpSync(ckDir, pristine, { recursive: true });
    baseState = JSON.parse(fs.readFileSync(path.join(ckDir, trainer.TRAINER_STATE_NAME), 'utf8'));
    const model = llama.LlamaForCausalLM.random(cfg, { seed: 1 });
    shapes = new Map(model.namedParameters().map(([n, t]) => [n, t.shape]));
  };
  const restore = () => {
    // Trainer.resume may prune / rewrite; put the pristine checkpoint back before each case.
    for (const name of fs.readdirSync(out)) if (name !== 'pristine') fs.rmSync(path.join(out, name), { recursive: true, force: true });
    fs.cpSync(pristine, ckDir, { recursive: true });
  };

  targets.push({
    name: 'trainer_state.json (readTrainerStateFile)',
    arb: fc.record({ edits: fc.option(jsonEditsArb(fc), { nil: null }), text: fc.option(textEditArb(fc), { nil: null }) }),
    setup: trainerSetup,
    run(c) {
      let text = JSON.stringify(c.edits ? applyJsonEdits(baseState, c.edits) : baseState) ?? 'null';
      if (c.text) text = applyTextEdit(text, c.text);
      const d = path.join(out, 'read-only-case');
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, trainer.TRAINER_STATE_NAME), text);
      trainer.readTrainerStateFile(d);
    },
    allowed: trainerTyped,
  });

  targets.push({
    name: 'optimizer.safetensors (readOptimizerState)',
    arb: fc.record({
      bytes: fc.option(byteEditsArb(fc), { nil: null }),
      steps: fc.option(jsonEditsArb(fc), { nil: null }),
    }),
    setup: trainerSetup,
    run(c) {
      const src = fs.readFileSync(path.join(pristine, trainer.OPTIMIZER_NAME));
      const file = path.join(out, 'optimizer-case.safetensors');
      fs.writeFileSync(file, c.bytes ? applyByteEdits(src, c.bytes) : src);
      let steps = baseState.optimizer.param_steps;
      if (c.steps) steps = applyJsonEdits(steps, c.steps);
      const opt = new trainer.AdamW(trainer.resolveConfig(baseState.config));
      trainer.readOptimizerState(file, opt, steps, shapes);
    },
    allowed: trainerTyped,
  });

  targets.push({
    name: 'trainer_state.json (Trainer.resume)',
    arb: fc.record({
      edits: jsonEditsArb(fc),
      focus: fc.constantFrom('any', 'rng', 'optimizer', 'sampler', 'metrics', 'nan', 'step', 'routing', 'tokens_seen', 'config', 'format'),
      text: fc.option(textEditArb(fc), { nil: null }),
    }),
    setup: trainerSetup,
    async run(c) {
      restore();
      let st;
      if (c.focus === 'any' || !(c.focus in baseState) || typeof baseState[c.focus] !== 'object' || baseState[c.focus] === null) st = applyJsonEdits(baseState, c.edits);
      else st = { ...baseState, [c.focus]: applyJsonEdits(baseState[c.focus], c.edits) };
      let text = JSON.stringify(st) ?? 'null';
      if (c.text) text = applyTextEdit(text, c.text);
      fs.writeFileSync(path.join(ckDir, trainer.TRAINER_STATE_NAME), text);
      await trainer.Trainer.resume(out, { ...inputs });
    },
    allowed: trainerTyped,
  });
  return targets;
}
