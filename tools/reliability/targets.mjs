/**
 * Fuzz targets shared by `tools/reliability/fuzz.mjs` (10 000+ cases per target against the built
 * dist) and the packages' `fuzz.test.ts` files (a few hundred cases against the sources, through
 * vitest). Each target is `{ name, arb, run(input), allowed(err), setup(), teardown() }`:
 *
 * - `arb` is a fast-check arbitrary of inputs (a mutated valid file, random bytes, header lies);
 * - `run` feeds one input to the parser and then uses what it returned (reads every tensor,
 *   encodes a string, draws a batch), so a lie that only bites on use is still found;
 * - `allowed(err)` is true only for the library's typed errors. TypeError / RangeError /
 *   SyntaxError and friends leaking out of a parser are the failures this hunts for.
 *
 * The libraries are passed in (`createTargets(libs)`) so the same code runs on dist and on src.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// ---------------------------------------------------------------------------------------------
// Generic mutators
// ---------------------------------------------------------------------------------------------

/** Every path (array of keys / indices) inside a JSON value, the root included, in a fixed order. */
export function jsonPaths(v, prefix = [], out = []) {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => jsonPaths(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) jsonPaths(v[k], [...prefix, k], out);
  return out;
}

/** Values a lying file likes to hold: wrong types, huge / negative / fractional numbers, escapes. */
export function nastyValueArb(fc) {
  return fc.oneof(
    fc.constantFrom(
      null, true, false, 0, -1, 1, 0.5, -0.0, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 63, 1e308, -1e308, 1e-320, '', 'x', '0', '1e9',
      [], {}, [0], [-1], [2 ** 53, 2 ** 53], { a: 1 }, '../x.safetensors', '/etc/passwd', 'model.bin', 'a\u0000b', '\ud800', 'F32', 'BF16', 'I64',
    ),
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 12 }),
    fc.jsonValue({ maxDepth: 2 }),
  );
}

/** 1..3 edits at random paths: set to a nasty value, delete, or wrap in an array. */
export function jsonEditsArb(fc) {
  return fc.array(
    fc.record({ at: fc.nat(), op: fc.constantFrom('set', 'set', 'set', 'delete', 'wrap', 'numify'), value: nastyValueArb(fc) }),
    { minLength: 1, maxLength: 3 },
  );
}

/** Apply edits from `jsonEditsArb` to a deep copy of `base`. */
export function applyJsonEdits(base, edits) {
  let root = structuredClone(base);
  for (const e of edits) {
    const paths = jsonPaths(root);
    const p = paths[e.at % paths.length];
    const value = e.op === 'wrap' ? [getAt(root, p)] : e.op === 'numify' ? numify(getAt(root, p)) : e.value;
    if (p.length === 0) {
      if (e.op !== 'delete') root = value;
      continue;
    }
    const parent = getAt(root, p.slice(0, -1));
    const key = p[p.length - 1];
    if (e.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(key, 1);
      else delete parent[key];
    } else parent[key] = value;
  }
  return root;
}

function getAt(root, p) {
  let v = root;
  for (const k of p) v = v[k];
  return v;
}

/** A number nudged into a lie (off by one, negated, huge); anything else into a number. */
function numify(v) {
  if (typeof v === 'number') return [v + 1, -v, v * 2 ** 20, v - 1][Math.abs(Math.floor(v)) % 4];
  if (typeof v === 'string') return v.length;
  return 7;
}

/** Text-level damage JSON.parse-level edits cannot express: truncation, splices, duplicate keys. */
export function textEditArb(fc) {
  return fc.record({
    kind: fc.constantFrom('truncate', 'splice', 'insert', 'dupkey', 'none'),
    pos: fc.nat(),
    len: fc.nat({ max: 16 }),
    str: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('{', '}', '[', ']', ',', '"', ':', '\\', '\u0000', 'NaN', '1e999', '"a":1,')),
  });
}

export function applyTextEdit(text, e) {
  const pos = text.length ? e.pos % (text.length + 1) : 0;
  switch (e.kind) {
    case 'truncate':
      return text.slice(0, pos);
    case 'splice':
      return text.slice(0, pos) + e.str + text.slice(pos + e.len);
    case 'insert':
      return text.slice(0, pos) + e.str + text.slice(pos);
    case 'dupkey': {
      // Repeat the first key of the object that opens at or after pos.
      const open = text.indexOf('{', pos) >= 0 ? text.indexOf('{', pos) : text.indexOf('{');
      if (open < 0) return text;
      const m = /^\s*("(?:[^"\\]|\\.)*")\s*:\s*("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false|null)\s*,?/.exec(text.slice(open + 1));
      if (!m) return text;
      return `${text.slice(0, open + 1)}${m[1]}: ${m[2]}, ${text.slice(open + 1)}`;
    }
    default:
      return text;
  }
}

/** Byte-level damage for binary formats; `lie` overwrites 4 or 8 bytes with a length that lies. */
export function byteEditsArb(fc) {
  return fc.array(
    fc.record({
      kind: fc.constantFrom('flip', 'truncate', 'insert', 'delete', 'lie32', 'lie64', 'zero'),
      pos: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
      len: fc.integer({ min: 1, max: 64 }),
      lie: fc.constantFrom(0xffffffff, 0x7fffffff, 0x80000000, 0x10000000, 0, 1, 8, 1 << 20),
    }),
    { minLength: 1, maxLength: 4 },
  );
}

export function applyByteEdits(bytes, edits) {
  let b = Uint8Array.from(bytes);
  for (const e of edits) {
    const pos = b.length ? e.pos % b.length : 0;
    switch (e.kind) {
      case 'flip':
        if (b.length) b[pos] ^= e.byte || 1;
        break;
      case 'truncate':
        b = b.slice(0, pos);
        break;
      case 'insert': {
        const out = new Uint8Array(b.length + e.len).fill(e.byte);
        out.set(b.subarray(0, pos), 0);
        out.set(b.subarray(pos), pos + e.len);
        b = out;
        break;
      }
      case 'delete':
        b = Uint8Array.from([...b.subarray(0, pos), ...b.subarray(pos + e.len)]);
        break;
      case 'zero':
        b.fill(0, pos, pos + e.len);
        break;
      case 'lie32':
        if (b.length >= 4) new DataView(b.buffer).setUint32(Math.min(pos, b.length - 4), e.lie >>> 0, true);
        break;
      case 'lie64':
        if (b.length >= 8) {
          const dv = new DataView(b.buffer);
          const at = Math.min(pos, b.length - 8);
          dv.setUint32(at, e.lie >>> 0, true);
          dv.setUint32(at + 4, e.lie >>> 0, true);
        }
        break;
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Safetensors builders
// ---------------------------------------------------------------------------------------------

const DTYPE_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const DTYPES = Object.keys(DTYPE_BYTES);

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
function stEntriesArb(fc) {
  return fc
    .array(fc.record({ dtype: fc.constantFrom(...DTYPES), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) }), { minLength: 1, maxLength: 4 })
    .map((list) => {
      const header = {};
      let off = 0;
      list.forEach((t, i) => {
        const n = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
        header[`t${i}.weight`] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
        off += n;
      });
      // Bytes 0..255 repeating: every F16/BF16/F32 bit pattern class (NaN, Inf, subnormal) shows up.
      return { header, data: Uint8Array.from({ length: off }, (_, i) => (i * 37) & 255) };
    });
}

/** Lies a header can tell while staying valid JSON. */
function stLieArb(fc) {
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

export function safetensorsCaseArb(fc) {
  return fc.oneof(
    fc.record({ kind: fc.constant('random'), bytes: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ kind: fc.constant('random-header'), len: fc.bigInt({ min: 0n, max: 400n }), bytes: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ kind: fc.constant('bytes'), base: stEntriesArb(fc), edits: byteEditsArb(fc) }),
    fc.record({ kind: fc.constant('lie'), base: stEntriesArb(fc), lie: stLieArb(fc) }),
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

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

/** Class names that must never escape a parser. */
export const UNTYPED = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError']);

function isA(err, ...classes) {
  return classes.some((C) => typeof C === 'function' && err instanceof C);
}

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

/**
 * The targets. `libs`: { fc, llama, data, trainer, arrow, parquetBytes } where llama / data /
 * trainer are the package modules, `arrow` is apache-arrow and `parquetBytes` is the
 * data-sampler test writer (writeParquetBytes).
 */
export function createTargets(libs, opts = {}) {
  const { fc, llama, data, trainer, arrow, parquetBytes } = libs;
  /**
   * false: Arrow inputs are only truncated (no byte flips / length lies). apache-arrow trusts
   * those lengths (allocating gigabytes, then stalling), which a default test run cannot afford;
   * fuzz.mjs keeps them on and watches with its worker watchdog.
   */
  const arrowLengthLies = opts.arrowLengthLies ?? true;
  const made = [];
  const tmp = (tag) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `llama-moe-fuzz-${tag}-`));
    made.push(d);
    return d;
  };
  const cleanupAll = () => {
    for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  };
  const ioTyped = (e) => isA(e, llama?.CheckpointIoError);

  const targets = [];

  // --- safetensors reader -------------------------------------------------------------------
  if (llama) {
    let dir;
    targets.push({
      name: 'safetensors',
      arb: safetensorsCaseArb(fc),
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

    // --- GGUF reader ---------------------------------------------------------------------------
    // A valid file (random metadata of every type, F32 / F16 / BF16 / Q8_0 tensors) then lies:
    // nasty u64 / u32 values written over header fields, byte flips, truncation, random bytes.
    let gdir;
    const NASTY64 = [0n, 1n, 31n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 62n, 2n ** 63n, 2n ** 64n - 1n];
    const NASTY32 = [0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 30, 31, 0x7fffffff, 0xffffffff];
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
  }

  // --- data readers (JSONL / text / Arrow / Parquet) -----------------------------------------
  if (data) {
    let ddir;
    let baseFiles;
    const dataTyped = (e) => isA(e, data.DataError);
    let ready = false;
    const readerSetup = () => {
      if (ready) return;
      ready = true;
      ddir = tmp('data');
      const texts = ['one', 'zwei ü 東京', 'three\nlines', '', 'x'.repeat(40), '🙂'];
      const { Table, vectorFromArray, Utf8, Int32, List, Field, tableToIPC } = arrow;
      const textTable = new Table({ text: vectorFromArray(texts, new Utf8()), n: vectorFromArray(texts.map((_, i) => i), new Int32()) });
      const tokTable = new Table({ input_ids: vectorFromArray([[1, 2, 3], [4], [], [5, 6]], new List(new Field('item', new Int32(), true))) });
      baseFiles = {
        jsonl: new TextEncoder().encode(texts.map((t, i) => JSON.stringify({ text: t, meta: { i } })).join('\n') + '\n'),
        text: new TextEncoder().encode(texts.join('\n\n')),
        'arrow-file': tableToIPC(textTable, 'file'),
        'arrow-stream': tableToIPC(textTable, 'stream'),
        'arrow-tokens': tableToIPC(tokTable, 'stream'),
        parquet: parquetBytes([{ name: 'text', type: 'utf8', values: texts }, { name: 'n', type: 'int32', values: texts.map((_, i) => i) }], 2),
      };
    };
    const readerRun = async (c) => {
      const ext = { jsonl: 'jsonl', text: 'txt', 'arrow-file': 'arrow', 'arrow-stream': 'arrow', 'arrow-tokens': 'arrow', parquet: 'parquet' }[c.format];
      const file = path.join(ddir, `in.${ext}`);
      // Without length lies, Arrow inputs are only truncated: a flipped or shifted length byte
      // is a length lie too, and apache-arrow allocates what it says (see arrowLengthLies).
      const edits = !arrowLengthLies && c.format.startsWith('arrow') ? c.edits.map((e) => ({ ...e, kind: 'truncate' })) : c.edits;
      fs.writeFileSync(file, applyByteEdits(baseFiles[c.format], edits));
      const start = c.resumeRow === null ? undefined : { row: c.resumeRow };
      const it =
        c.format === 'jsonl' ? data.readJsonl(file, { start: undefined, chunkBytes: 7 })
        : c.format === 'text' ? data.readText(file, { textMode: 'paragraph', chunkBytes: 5 })
        : c.format === 'arrow-tokens' ? data.readArrowTokens(file, { start })
        : c.format === 'parquet' ? data.readParquet(file, { start })
        : data.readArrow(file, { start });
      let n = 0;
      for await (const r of it) {
        if (++n > 10_000) throw new Error('reader yielded more than 10 000 records from a 1 kB file');
        if (r.text !== undefined && typeof r.text !== 'string') throw new Error(`record text is ${typeof r.text}`);
      }
    };
    const readerTarget = (name, formats) => ({
      name,
      arb: fc.record({ format: fc.constantFrom(...formats), edits: byteEditsArb(fc), resumeRow: fc.option(fc.nat({ max: 6 }), { nil: null }) }),
      setup: readerSetup,
      run: readerRun,
      allowed: dataTyped,
    });
    targets.push(readerTarget('jsonl + text readers', ['jsonl', 'text']));
    targets.push(readerTarget('parquet reader', ['parquet']));
    targets.push(readerTarget('arrow reader', ['arrow-file', 'arrow-stream', 'arrow-tokens']));

    // --- sampler state ------------------------------------------------------------------------
    let sources;
    let tok;
    let baseState;
    targets.push({
      name: 'sampler state',
      arb: fc.record({ edits: jsonEditsArb(fc), focus: fc.constantFrom('any', 'config', 'rng', 'domains', 'weights', 'dynamic', 'step') }),
      async setup() {
        tok = data.byteLevelTokenizer();
        sources = [
          { name: 'github', documents: ['def f(x): return x', 'int main() {}', 'fn x() {}', 'print(1)'] },
          { name: 'arxiv', documents: ['We prove that', 'Theorem 1. Let x', 'In this paper'] },
        ];
        const s = new data.MultiDomainSampler({
          sources, tokenizer: tok, seqLen: 8, seed: 3, shuffleBuffer: 2,
          dynamic: { rule: 'sheared_llama', referenceLoss: { github: 1, arxiv: 2 } },
        });
        await s.nextBatch(2);
        s.update({ github: 1.5, arxiv: 2.5 });
        await s.nextBatch(2);
        baseState = JSON.parse(JSON.stringify(s.state()));
        await s.close();
      },
      async run(c) {
        let st;
        if (c.focus === 'any' || !(c.focus in baseState) || typeof baseState[c.focus] !== 'object' || baseState[c.focus] === null) st = applyJsonEdits(baseState, c.edits);
        else st = { ...baseState, [c.focus]: applyJsonEdits(baseState[c.focus], c.edits) };
        const s = data.MultiDomainSampler.resume(st, { sources, tokenizer: tok });
        try {
          for (let i = 0; i < 2; i++) {
            const b = await s.nextBatch(2);
            if (!(b.inputIds instanceof Int32Array)) throw new Error('batch without Int32Array inputIds');
          }
        } finally {
          await s.close();
        }
      },
      allowed: dataTyped,
    });
  }

  // --- trainer checkpoint manifests ---------------------------------------------------------
  if (trainer && llama && data) {
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
  }

  return { targets, cleanupAll };
}

// ---------------------------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------------------------

/** Shorten an input for a report line (bytes as hex, bigints as strings). */
export function describeInput(c, max = 600) {
  const s = JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `hex:${Buffer.from(v).toString('hex')}` : v));
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

class HangError extends Error {
  constructor(ms) {
    super(`case did not settle within ${ms} ms`);
  }
}

/**
 * Run `numRuns` cases of a target. Every case is timed and the process's ArrayBuffer memory is
 * sampled before and after (a lying length that allocates shows up as growth). Failures are
 * counted, not thrown, so one bug does not hide the others; the first few distinct ones are kept
 * with their inputs as reproducers.
 */
export async function runTarget(fc, target, opts = {}) {
  const numRuns = opts.numRuns ?? 500;
  const seed = opts.seed ?? 42;
  const slowMs = opts.slowMs ?? 2000;
  const memLimit = opts.memLimitBytes ?? 256 * 2 ** 20;
  const onCase = opts.onCase ?? (() => {});
  await target.setup?.();
  const stats = { name: target.name, cases: 0, ok: 0, typed: 0, failures: 0, slow: 0, memory: 0, maxMs: 0, maxArrayBufferGrowth: 0, ms: 0, examples: [] };
  const seen = new Set();
  const record = (kind, c, detail) => {
    const key = `${kind}:${detail.split(/[0-9]/)[0].slice(0, 80)}`;
    if (seen.has(key) || stats.examples.length >= (opts.maxExamples ?? 8)) return;
    seen.add(key);
    const ex = { kind, detail, input: describeInput(c) };
    stats.examples.push(ex);
    opts.onExample?.(ex);
  };
  const t0 = performance.now();
  const samples = fc.sample(target.arb, { numRuns, seed });
  // `from`: a watchdog restarting after a hang continues with the next case of the same sequence.
  for (let i = opts.from ?? 0; i < samples.length; i++) {
    const c = samples[i];
    onCase(i, c);
    const ab0 = process.memoryUsage().arrayBuffers;
    const s = performance.now();
    let err = null;
    let timer;
    try {
      // An async case that never settles (a reader waiting forever) is a hang: give up after
      // timeoutMs. A sync loop cannot be interrupted here; fuzz.mjs's worker watchdog covers that.
      const run = Promise.resolve().then(() => target.run(c));
      await (opts.timeoutMs ? Promise.race([run, new Promise((_, rej) => (timer = setTimeout(() => rej(new HangError(opts.timeoutMs)), opts.timeoutMs)))]) : run);
    } catch (e) {
      err = e;
    } finally {
      clearTimeout(timer);
    }
    if (err instanceof HangError) {
      stats.hangs = (stats.hangs ?? 0) + 1;
      record('hang', c, err.message);
      err = null;
      stats.slow++;
    }
    const ms = performance.now() - s;
    const grow = process.memoryUsage().arrayBuffers - ab0;
    stats.cases++;
    stats.maxMs = Math.max(stats.maxMs, ms);
    stats.maxArrayBufferGrowth = Math.max(stats.maxArrayBufferGrowth, grow);
    if (err === null) stats.ok++;
    else if (target.allowed(err)) stats.typed++;
    else {
      stats.failures++;
      const name = err?.constructor?.name ?? typeof err;
      record('untyped', c, `${name}: ${String(err?.message ?? err).split('\n')[0].slice(0, 300)}${opts.stacks && err?.stack ? `\n${err.stack.split('\n').slice(1, 4).join('\n')}` : ''}`);
    }
    if (ms > slowMs) {
      stats.slow++;
      record('slow', c, `case took ${ms.toFixed(0)} ms`);
    }
    if (grow > memLimit) {
      stats.memory++;
      record('memory', c, `ArrayBuffer memory grew by ${(grow / 2 ** 20).toFixed(0)} MB`);
    }
    opts.onOutcome?.({ i, ms, grow, outcome: err === null ? 'ok' : target.allowed(err) ? 'typed' : 'fail', slow: ms > slowMs, memory: grow > memLimit });
  }
  stats.ms = performance.now() - t0;
  await target.teardown?.();
  return stats;
}

/** One line per finding, for a test's failure message. */
export function summarize(stats) {
  const head = `${stats.name}: ${stats.cases} cases, ${stats.ok} accepted, ${stats.typed} typed errors, ${stats.failures} untyped, ${stats.slow} slow, ${stats.memory} memory`;
  return [head, ...stats.examples.map((e) => `  [${e.kind}] ${e.detail} <- ${e.input}`)].join('\n');
}

/** Assert-style check shared by the fuzz tests. */
export function findings(stats) {
  return stats.failures + stats.slow + stats.memory;
}
