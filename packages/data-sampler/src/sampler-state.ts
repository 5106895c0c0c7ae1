import { decodeIds } from './codec.js';
import { DataError } from './errors.js';

/**
 * Validation of a MultiDomainSampler state before anything trusts it. A state comes back from
 * JSON on disk (trainer checkpoints), so every field is checked for type and range and a bad
 * one throws DataError('state') naming its path, never a TypeError from deep inside the
 * sampler, and never an allocation sized by a damaged number (seqLen feeds `new Int32Array(B·T)`).
 */

/** Largest block length a state may ask for: 1 Mi tokens (LLaMA-MoE trains at 4096). */
export const MAX_STATE_SEQ_LEN = 1_048_576;
/** Largest shuffle buffer (documents held per domain) a state may ask for. */
export const MAX_STATE_SHUFFLE_BUFFER = 1 << 24;

const RULES = ['sheared_llama', 'llama_moe'];
const REMAINDERS = ['drop', 'pad', 'keep'];

function fail(path: string, what: string, got: unknown): never {
  let shown: string;
  try {
    shown = got === undefined ? 'undefined' : (JSON.stringify(got) ?? String(got));
  } catch {
    shown = typeof got;
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  throw new DataError('state', `resume: state.${path} must be ${what}, got ${shown}; pass the object from sampler.state()`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (!isObject(v)) fail(path, 'an object', v);
  return v;
}

function int(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `an integer in [${min}, ${max}]`, v);
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'a boolean', v);
  return v;
}

function finite(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'a finite number', v);
  return v;
}

function strings(v: unknown, path: string, nonEmpty = false): string[] {
  if (!Array.isArray(v)) fail(path, 'an array of strings', v);
  v.forEach((x, i) => {
    if (typeof x !== 'string' || (nonEmpty && x.length === 0)) fail(`${path}[${i}]`, nonEmpty ? 'a non-empty string' : 'a string', x);
  });
  return v as string[];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function rngState(v: unknown, path: string): void {
  if (!Array.isArray(v) || v.length !== 4) fail(path, 'an array of four uint32 words', v);
  v.forEach((x, i) => int(x, `${path}[${i}]`, 0, 0xffffffff));
}

/** {domain: weight} with every domain present, finite and >= 0, no unknown domain, positive sum. */
function weightMap(v: unknown, path: string, domains: readonly string[]): void {
  const w = obj(v, path);
  for (const k of Object.keys(w)) {
    if (!domains.includes(k)) fail(path, `a map over the domains [${domains.join(', ')}]`, k);
  }
  let sum = 0;
  for (const d of domains) {
    const x = w[d];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) fail(`${path}.${d}`, 'a finite number >= 0', x);
    sum += x;
  }
  if (!(sum > 0) || !Number.isFinite(sum)) fail(path, 'weights with a positive finite sum', v);
}

function cursor(v: unknown, path: string): void {
  if (v === null) return;
  const c = obj(v, path);
  int(c.row, `${path}.row`, 0);
  if (c.offset !== undefined) int(c.offset, `${path}.offset`, 0);
}

function ids(v: unknown, path: string): void {
  if (typeof v !== 'string') fail(path, 'a base64 string of int32 ids', v);
  decodeIds(v, `state.${path}`);
}

function domainStream(v: unknown, path: string, name: string, units: number, shuffleBuffer: number): void {
  const s = obj(v, path);
  if (s.name !== name) fail(`${path}.name`, `"${name}" (domains are saved in config.domains order)`, s.name);
  int(s.epoch, `${path}.epoch`, 0);
  if (!Array.isArray(s.fileOrder) || s.fileOrder.length !== units) fail(`${path}.fileOrder`, `an array of ${units} file indices`, s.fileOrder);
  const seen = new Set<number>();
  s.fileOrder.forEach((x, i) => {
    const k = int(x, `${path}.fileOrder[${i}]`, 0, units - 1);
    if (seen.has(k)) fail(`${path}.fileOrder[${i}]`, 'a file index not already listed (a permutation)', x);
    seen.add(k);
  });
  int(s.filePos, `${path}.filePos`, 0, units);
  cursor(s.cursor, `${path}.cursor`);
  bool(s.readerDone, `${path}.readerDone`);
  if (!Array.isArray(s.buffer) || s.buffer.length > shuffleBuffer) fail(`${path}.buffer`, `an array of at most config.shuffleBuffer=${shuffleBuffer} base64 strings`, Array.isArray(s.buffer) ? `${s.buffer.length} entries` : s.buffer);
  s.buffer.forEach((x, i) => ids(x, `${path}.buffer[${i}]`));
  ids(s.carry, `${path}.carry`);
  rngState(s.rng, `${path}.rng`);
  for (const k of ['docsThisEpoch', 'blocksThisEpoch', 'documents', 'tokens', 'blocks'] as const) int(s[k], `${path}.${k}`, 0);
}

function dynamicState(v: unknown, domains: readonly string[]): void {
  if (v === null) return;
  const d = obj(v, 'dynamic');
  if (typeof d.rule !== 'string' || !RULES.includes(d.rule)) fail('dynamic.rule', `one of ${RULES.join(' | ')}`, d.rule);
  if (!sameList(strings(d.domains, 'dynamic.domains'), domains)) fail('dynamic.domains', `equal to config.domains [${domains.join(', ')}]`, d.domains);
  const ref = obj(d.referenceLoss, 'dynamic.referenceLoss');
  for (const name of domains) finite(ref[name], `dynamic.referenceLoss.${name}`);
  const eta = finite(d.eta, 'dynamic.eta');
  if (!(eta > 0)) fail('dynamic.eta', 'a positive number', eta);
  const c = finite(d.c, 'dynamic.c');
  if (!(c >= 0 && c < 1)) fail('dynamic.c', 'a number in [0, 1)', c);
  weightMap(d.weights, 'dynamic.weights', domains);
  int(d.updates, 'dynamic.updates', 0);
}

/**
 * Throws DataError('state', 'resume: state.<path> must be ...') for the first bad field. Checks
 * the state on its own; `MultiDomainSampler.resume` then matches it against the given sources.
 */
export function validateSamplerState(state: unknown): void {
  const s = obj(state, '(root)');
  if (s.version !== 1) fail('version', '1 (a MultiDomainSampler state)', s.version);
  const c = obj(s.config, 'config');
  int(c.seqLen, 'config.seqLen', 1, MAX_STATE_SEQ_LEN);
  if (!((typeof c.seed === 'number' && Number.isFinite(c.seed)) || typeof c.seed === 'string')) fail('config.seed', 'a finite number or a string', c.seed);
  bool(c.addBos, 'config.addBos');
  bool(c.addEos, 'config.addEos');
  if (typeof c.remainder !== 'string' || !REMAINDERS.includes(c.remainder)) fail('config.remainder', `one of ${REMAINDERS.join(' | ')}`, c.remainder);
  int(c.padId, 'config.padId', -0x80000000, 0x7fffffff);
  const shuffleBuffer = int(c.shuffleBuffer, 'config.shuffleBuffer', 1, MAX_STATE_SHUFFLE_BUFFER);
  bool(c.shuffleFiles, 'config.shuffleFiles');
  if (c.tokenizerHash !== null && typeof c.tokenizerHash !== 'string') fail('config.tokenizerHash', 'a string or null', c.tokenizerHash);
  const domains = strings(c.domains, 'config.domains', true);
  if (domains.length === 0) fail('config.domains', 'a non-empty array of domain names', c.domains);
  const dup = domains.find((n, i) => domains.indexOf(n) !== i);
  if (dup !== undefined) fail('config.domains', 'distinct domain names', dup);
  const units = obj(c.units, 'config.units');
  for (const d of domains) {
    const u = strings(units[d], `config.units.${d}`);
    if (u.length === 0) fail(`config.units.${d}`, 'a non-empty array of file names', u);
  }
  rngState(s.rng, 'rng');
  int(s.step, 'step', 0);
  int(s.samples, 'samples', 0);
  weightMap(s.weights, 'weights', domains);
  dynamicState(s.dynamic, domains);
  if (!Array.isArray(s.domains) || s.domains.length !== domains.length) fail('domains', `an array of ${domains.length} domain stream states`, Array.isArray(s.domains) ? `${s.domains.length} entries` : s.domains);
  s.domains.forEach((d, i) => domainStream(d, `domains[${i}]`, domains[i]!, (units[domains[i]!] as string[]).length, shuffleBuffer));
}
