/**
 * Fuzz targets of the safetensors format: the single-file reader (SafetensorsFile) and sharded
 * checkpoints (model.safetensors.index.json + shards, openCheckpoint). Headers are built from the
 * library's own dtype table (SAFETENSORS_DTYPES and tensorByteLength of @llama-moe/llama-model).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyByteEdits, applyJsonEdits, applyTextEdit, byteEditsArb, isA, jsonEditsArb, nastyValueArb, textEditArb } from './mutators.mjs';

/** The safetensors dtype table of the library under test: bytes per element of every dtype, in SAFETENSORS_DTYPES order. */
export function safetensorsDtypeBytes(llama) {
  return Object.fromEntries(llama.SAFETENSORS_DTYPES.map((d) => [d, llama.tensorByteLength([1], d)]));
}

/** `8-byte length | header text | data`, with the length field optionally lying. */
export function stBytes(headerText, data, lengthField) {
  const h = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** A valid header object for a few small tensors, plus a data section of the right length. */
function stEntriesArb(fc, dtypeBytes) {
  const DTYPES = Object.keys(dtypeBytes);
  return fc
    .array(fc.record({ dtype: fc.constantFrom(...DTYPES), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) }), { minLength: 1, maxLength: 4 })
    .map((list) => {
      const header = {};
      let off = 0;
      list.forEach((t, i) => {
        const n = t.shape.reduce((a, b) => a * b, 1) * dtypeBytes[t.dtype];
        header[`t${i}.weight`] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
        off += n;
      });
      // Bytes 0..255 repeating: every F16/BF16/F32 bit pattern class (NaN, Inf, subnormal) shows up.
      return { header, data: Uint8Array.from({ length: off }, (_, i) => (i * 37) & 255) };
    });
}

/** Lies a header can tell while staying valid JSON. */
function stLieArb(fc, dtypeBytes) {
  const DTYPES = Object.keys(dtypeBytes);
  return fc.oneof(
    fc.record({ lie: fc.constant('offsets-out'), by: fc.integer({ min: 1, max: 2 ** 40 }) }),
    fc.record({ lie: fc.constant('overlap') }),
    fc.record({ lie: fc.constant('dtype'), dtype: fc.constantFrom(...DTYPES, 'F8_E4M3', 'Q4', 'f32', '') }),
    fc.record({ lie: fc.constant('shape'), shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 9 }), { maxLength: 4 }), fc.constantFrom([2 ** 31, 2 ** 31, 2 ** 31], [2 ** 53], [1e308], [1.5], ['2'])) }),
    fc.record({ lie: fc.constant('length-field'), value: fc.oneof(fc.constantFrom(2n ** 63n, 2n ** 64n - 1n, 2n ** 32n, 0n, 1n, 100_000_001n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })) }),
    fc.record({ lie: fc.constant('non-object'), text: fc.constantFrom('[]', '[{"dtype":"F32"}]', '1', '"x"', 'null', 'true', '{', '{"a":', '{}}', '\u00ff\u00fe') }),
    fc.record({ lie: fc.constant('dup-key') }),
    fc.record({ lie: fc.constant('metadata'), value: nastyValueArb(fc) }),
    fc.record({ lie: fc.constant('json-edit'), edits: jsonEditsArb(fc) }),
  );
}

/** Cases for the safetensors reader; `dtypeBytes` is the library's own dtype table (safetensorsDtypeBytes(llama)). */
export function safetensorsCaseArb(fc, dtypeBytes) {
  return fc.oneof(
    fc.record({ kind: fc.constant('random'), bytes: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ kind: fc.constant('random-header'), len: fc.bigInt({ min: 0n, max: 400n }), bytes: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ kind: fc.constant('bytes'), base: stEntriesArb(fc, dtypeBytes), edits: byteEditsArb(fc) }),
    fc.record({ kind: fc.constant('lie'), base: stEntriesArb(fc, dtypeBytes), lie: stLieArb(fc, dtypeBytes) }),
  );
}

export function safetensorsCaseBytes(c) {
  if (c.kind === 'random') return c.bytes;
  if (c.kind === 'random-header') {
    const out = new Uint8Array(8 + c.bytes.length);
    new DataView(out.buffer).setBigUint64(0, c.len, true);
    out.set(c.bytes, 8);
    return out;
  }
  const { header, data } = c.base;
  if (c.kind === 'bytes') return applyByteEdits(stBytes(JSON.stringify(header), data), c.edits);
  const h = structuredClone(header);
  const names = Object.keys(h);
  const first = h[names[0]];
  const last = h[names[names.length - 1]];
  let text = null;
  let lengthField;
  switch (c.lie.lie) {
    case 'offsets-out':
      last.data_offsets = [last.data_offsets[0] + c.lie.by, last.data_offsets[1] + c.lie.by];
      break;
    case 'overlap':
      if (names.length > 1) last.data_offsets = [first.data_offsets[0], first.data_offsets[0] + (last.data_offsets[1] - last.data_offsets[0])];
      else first.data_offsets = [0, first.data_offsets[1] + 1];
      break;
    case 'dtype':
      first.dtype = c.lie.dtype;
      break;
    case 'shape':
      first.shape = c.lie.shape;
      break;
    case 'length-field':
      lengthField = c.lie.value;
      break;
    case 'non-object':
      text = c.lie.text;
      break;
    case 'dup-key': {
      const j = JSON.stringify(h);
      text = `{"${names[0]}":${JSON.stringify(first)},${j.slice(1)}`;
      break;
    }
    case 'metadata':
      h.__metadata__ = typeof c.lie.value === 'object' && c.lie.value !== null ? c.lie.value : { format: c.lie.value };
      break;
    case 'json-edit':
      text = JSON.stringify(applyJsonEdits(h, c.lie.edits)) ?? 'null';
      break;
  }
  return stBytes(text ?? JSON.stringify(h), data, lengthField);
}

/** Targets 'safetensors' and 'safetensors.index.json'. */
export function safetensorsTargets({ fc, llama, tmp, ioTyped }) {
  const targets = [];
  const dtypeBytes = safetensorsDtypeBytes(llama);
// --- safetensors reader -------------------------------------------------------------------
  let dir;
  targets.push({
    name: 'safetensors',
    arb: safetensorsCaseArb(fc, dtypeBytes),
    setup() {
      dir = tmp('st');
    },
    run(c) {
      const file = path.join(dir, 'model.safetensors');
      fs.writeFileSync(file, safetensorsCaseBytes(c));
      const st = llama.SafetensorsFile.open(file);
      try {
        for (const k of st.keys()) {
          st.readRaw(k);
          st.readF32(k);
          try {
            st.readTensor(k);
          } catch (e) {
            // I64 values beyond int32 are a typed refusal of readTensor, not a parser failure.
            if (!(e instanceof llama.SafetensorsError && /does not fit in int32/.test(e.message))) throw e;
          }
        }
      } finally {
        st.close();
      }
    },
    allowed: (e) => ioTyped(e) && !String(e.message).includes('\n'),
  });
  return targets;
}

/** Target 'safetensors.index.json'. */
export function shardedCheckpointTargets({ fc, llama, tmp, ioTyped }) {
  const targets = [];
  // --- model.safetensors.index.json + shards --------------------------------------------
  let root;
  let mdir;
  let baseIndex;
  targets.push({
    name: 'safetensors.index.json',
    arb: fc.record({
      edits: fc.option(jsonEditsArb(fc), { nil: null }),
      shard: fc.option(fc.record({ at: fc.nat(), name: fc.oneof(nastyValueArb(fc), fc.constantFrom('../outside.safetensors', 'sub/../../outside.safetensors', `${'/'}tmp/x.safetensors`, 'C:\\x.safetensors', '\\\\server\\x.safetensors', 'pytorch_model.bin', 'model.pt', 'missing.safetensors', 'model-00002-of-00002.safetensors', './model-00001-of-00002.safetensors', 'sub/ok.safetensors')) }), { nil: null }),
      text: fc.option(textEditArb(fc), { nil: null }),
    }),
    setup() {
      root = tmp('idx');
      mdir = path.join(root, 'model');
      fs.mkdirSync(path.join(mdir, 'sub'), { recursive: true });
      const t = (name, n) => ({ name, dtype: 'F32', shape: [n], data: new Float32Array(n).fill(0.25) });
      llama.writeSafetensors(path.join(mdir, 'model-00001-of-00002.safetensors'), [t('a.weight', 3), t('b.weight', 2)]);
      llama.writeSafetensors(path.join(mdir, 'model-00002-of-00002.safetensors'), [t('c.weight', 4)]);
      llama.writeSafetensors(path.join(mdir, 'sub', 'ok.safetensors'), [t('a.weight', 3)]);
      // A valid shard OUTSIDE the folder: an index that escapes would open it successfully.
      llama.writeSafetensors(path.join(root, 'outside.safetensors'), [t('a.weight', 3), t('b.weight', 2)]);
      baseIndex = {
        metadata: { total_size: 36 },
        weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00001-of-00002.safetensors', 'c.weight': 'model-00002-of-00002.safetensors' },
      };
    },
    run(c) {
      let idx = structuredClone(baseIndex);
      if (c.shard) {
        const keys = Object.keys(idx.weight_map);
        idx.weight_map[keys[c.shard.at % keys.length]] = c.shard.name;
      }
      if (c.edits) idx = applyJsonEdits(idx, c.edits);
      let text = JSON.stringify(idx) ?? 'null';
      if (c.text) text = applyTextEdit(text, c.text);
      fs.writeFileSync(path.join(mdir, 'model.safetensors.index.json'), text);
      const ck = llama.openCheckpoint(mdir);
      try {
        for (const f of ck.files) {
          const rel = path.relative(mdir, path.resolve(mdir, f));
          if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`ESCAPE: opened shard '${f}' outside the model folder`);
        }
        for (const k of ck.keys()) ck.readF32(k);
      } finally {
        ck.close();
      }
    },
    allowed: ioTyped,
  });
  return targets;
}
