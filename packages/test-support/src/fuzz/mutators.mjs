/** Generic mutators shared by the fuzz targets: JSON edits, text edits, byte edits, nasty values; the untyped error classes. */
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

/** Class names that must never escape a parser. */
export const UNTYPED = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError']);

export function isA(err, ...classes) {
  return classes.some((C) => typeof C === 'function' && err instanceof C);
}

