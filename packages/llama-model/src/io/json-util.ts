/**
 * JSON helpers shared by the safetensors, index and config code:
 * - duplicate-key detection (JSON.parse silently keeps the last of two equal keys, which would let a
 *   lying header or index hide a tensor),
 * - Python-compatible `json.dumps(obj, indent=2, sort_keys=True)` output, so files we write
 *   (model.safetensors.index.json, config.json) are byte-identical to what transformers writes.
 */

/** Where a duplicate key was found: `path` is the chain of enclosing object keys (empty at top level). */
export interface DuplicateKey {
  key: string;
  path: string[];
}

/**
 * Scan JSON text (already accepted by JSON.parse) for an object with a repeated key, at any depth.
 * Returns the first duplicate or null. Linear time, no recursion (a deeply nested header cannot
 * overflow the stack here).
 */
export function findDuplicateKey(text: string): DuplicateKey | null {
  // One frame per open container: a key set for objects, null for arrays; `names` mirrors the
  // key each container hangs under, for the message.
  const frames: Array<Set<string> | null> = [];
  const names: string[] = [];
  let expectingKey = false;
  let lastKey = '';
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) j += 2;
        else if (d === 0x22) break;
        else j++;
      }
      const top = frames.length ? frames[frames.length - 1] : null;
      if (expectingKey && top) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.has(key)) return { key, path: names.slice(1) };
        top.add(key);
        lastKey = key;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      frames.push(new Set());
      names.push(lastKey);
      expectingKey = true;
    } else if (c === 0x5b /* [ */) {
      frames.push(null);
      names.push(lastKey);
      expectingKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      frames.pop();
      names.pop();
      expectingKey = false;
    } else if (c === 0x2c /* , */) {
      expectingKey = frames.length > 0 && frames[frames.length - 1] !== null;
    } else if (c === 0x3a /* : */) {
      expectingKey = false;
    }
  }
  return null;
}

/** True for a plain JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Marks a number that Python holds as a float, so it is written `10000.0` / `1e-05` like `repr(float)`. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Python's `repr(float)`: shortest round-trip digits, fixed notation for 1e-4 <= |x| < 1e16, else `1e-05` style. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e') as [string, string];
  const e = Number.parseInt(expStr, 10);
  const sign = mant.startsWith('-') ? '-' : '';
  const digits = mant.replace('-', '').replace('.', '');
  if (e >= -4 && e < 16) {
    if (e >= 0) {
      const intPart = digits.slice(0, e + 1).padEnd(e + 1, '0');
      const frac = digits.slice(e + 1);
      return `${sign}${intPart}.${frac || '0'}`;
    }
    return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** Python `json.dumps` string escaping with ensure_ascii=True: everything outside ' '..'~' becomes \uXXXX. */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return out + '"';
}

/** Python sorts dict keys by code point; JS's default sort compares UTF-16 units (differs above U+FFFF). */
export function codePointCompare(a: string, b: string): number {
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/**
 * `json.dumps(value, indent=2, sort_keys=True)` as Python writes it (no trailing newline).
 * Numbers that are integers print as ints; wrap floats in `PyFloat` to get Python's float repr.
 * `undefined` object members are dropped (like JSON.stringify).
 */
export function pyJsonDumps(value: unknown, indent = 2, level = 0): string {
  if (value === null) return 'null';
  if (value instanceof PyFloat) return pyFloatRepr(value.value);
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < 2 ** 63 ? BigInt(value).toString() : pyFloatRepr(value);
    case 'string':
      return pyJsonString(value);
    case 'object':
      break;
    default:
      throw new TypeError(`pyJsonDumps: cannot serialize a ${typeof value}`);
  }
  const pad = ' '.repeat(indent * (level + 1));
  const close = ' '.repeat(indent * level);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => pad + pyJsonDumps(v, indent, level + 1)).join(',\n')}\n${close}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(codePointCompare);
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((k) => `${pad}${pyJsonString(k)}: ${pyJsonDumps(obj[k], indent, level + 1)}`).join(',\n')}\n${close}}`;
}
