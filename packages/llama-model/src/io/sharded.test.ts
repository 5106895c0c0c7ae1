import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCheckpoint } from './checkpoint.js';
import { planShards, ShardedCheckpointWriter, shardFileName, writeShardedSafetensors } from './sharded-writer.js';
import { writeSafetensors, type SafetensorsTensorInput } from './safetensors-writer.js';
import { CheckpointError, SafetensorsError } from './errors.js';
import { SafetensorsFile } from './safetensors-reader.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shard-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let dirNo = 0;
const nextDir = (): string => path.join(tmp, `m${dirNo++}`);

const tensorArb = fc
  .record({
    dtype: fc.constantFrom('F32' as const, 'BF16' as const, 'F16' as const, 'I32' as const),
    shape: fc.array(fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 9 })), { maxLength: 2 }),
    seed: fc.integer({ min: -50, max: 50 }),
  })
  .map(({ dtype, shape, seed }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = dtype === 'I32' ? Int32Array.from({ length: n }, (_, i) => seed * 1000 + i) : Float32Array.from({ length: n }, (_, i) => seed + i * 0.5);
    return { dtype, shape, data };
  });
const modelArb = fc
  .uniqueArray(fc.stringMatching(/^model\.layers\.[0-9]\.[a-z]{1,4}\.weight$/), { minLength: 0, maxLength: 8 })
  .chain((names) => fc.tuple(...names.map((name) => tensorArb.map((t) => ({ name, ...t }) as SafetensorsTensorInput & { data: Float32Array | Int32Array }))));
const bytesOf = (t: SafetensorsTensorInput): number => t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'F32' || t.dtype === 'I32' ? 4 : 2);

/** huggingface_hub's split_state_dict_into_shards_factory, transcribed independently for the test. */
function referenceSplit(sizes: [string, number][], max: number): string[][] {
  const shardList: string[][] = [];
  let current: string[] = [];
  let currentSize = 0;
  for (const [key, size] of sizes) {
    if (size > max) {
      shardList.push([key]);
      continue;
    }
    if (currentSize + size > max) {
      shardList.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(key);
    currentSize += size;
  }
  if (current.length) shardList.push(current);
  return shardList;
}

describe('sharded checkpoints', () => {
  it('write -> openCheckpoint round trip for several shard sizes, array and streamed', () => {
    fc.assert(
      fc.property(modelArb, fc.constantFrom(1, 8, 40, 100, 10_000), fc.boolean(), (tensors, maxShardBytes, streamed) => {
        const dir = nextDir();
        const res = streamed
          ? writeShardedSafetensors(dir, (function* () { yield* tensors; })(), { maxShardBytes })
          : writeShardedSafetensors(dir, tensors, { maxShardBytes });
        const plan = referenceSplit(tensors.map((t) => [t.name, bytesOf(t)]), maxShardBytes);
        const nShards = Math.max(1, plan.length);
        expect(res.files.length).toBe(nShards);
        const totalSize = tensors.reduce((s, t) => s + bytesOf(t), 0);
        expect(res.totalSize).toBe(totalSize);
        const listing = fs.readdirSync(dir).sort();
        if (nShards === 1) {
          expect(listing).toEqual(['model.safetensors']);
          expect(res.indexFile).toBeNull();
        } else {
          const names = plan.map((_, i) => shardFileName(i, nShards));
          expect(listing).toEqual([...names, 'model.safetensors.index.json'].sort());
          const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
          expect(index.metadata).toEqual({ total_size: totalSize });
          const wm: Record<string, string> = {};
          plan.forEach((shard, i) => shard.forEach((n) => (wm[n] = names[i]!)));
          expect(index.weight_map).toEqual(wm);
          // Each shard holds its tensors in the order given and carries transformers' metadata.
          plan.forEach((shard, i) => {
            const st = SafetensorsFile.open(path.join(dir, names[i]!));
            expect(st.keys()).toEqual(shard);
            expect(st.metadata).toEqual({ format: 'pt' });
            st.close();
          });
        }
        const ck = openCheckpoint(dir);
        expect(ck.kind).toBe(nShards === 1 ? 'single' : 'sharded');
        expect(new Set(ck.keys())).toEqual(new Set(tensors.map((t) => t.name)));
        for (const t of tensors) {
          expect(ck.info(t.name).shape).toEqual(t.shape);
          expect(ck.info(t.name).file).toBe(res.weightMap[t.name]);
          const back = ck.readF32(t.name);
          const want = t.dtype === 'F32' || t.dtype === 'I32' ? Array.from(t.data) : Array.from(ck.readF32(t.name));
          expect(Array.from(back)).toEqual(want);
          if (t.dtype === 'I32') expect(Array.from(ck.readTensor(t.name).data)).toEqual(Array.from(t.data));
        }
        ck.close();
        expect(listing.filter((f) => f.includes('tmp'))).toEqual([]);
      }),
      { numRuns: 80 },
    );
  });

  it('planShards matches the huggingface_hub rule (oversized tensors get their own shard, numbered where met)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 120 }), { maxLength: 12 }), fc.integer({ min: 1, max: 100 }), (sizes, max) => {
        const entries = sizes.map((byteLength, i) => ({ name: `t${i}`, byteLength }));
        expect(planShards(entries, max)).toEqual(referenceSplit(entries.map((e) => [e.name, e.byteLength]), max));
      }),
    );
    expect(planShards([{ name: 'a', byteLength: 4 }, { name: 'big', byteLength: 50 }, { name: 'b', byteLength: 4 }, { name: 'c', byteLength: 4 }], 10)).toEqual([['big'], ['a', 'b'], ['c']]);
  });

  it('index file is byte-identical to json.dumps(indent=2, sort_keys=True) + newline', () => {
    const dir = nextDir();
    const t = (name: string): SafetensorsTensorInput => ({ name, dtype: 'F32', shape: [2], data: new Float32Array(2) });
    writeShardedSafetensors(dir, [t('model.norm.weight'), t('lm_head.weight'), t('model.embed_tokens.weight')], { maxShardBytes: 8 });
    expect(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8')).toBe(
      [
        '{',
        '  "metadata": {',
        '    "total_size": 24',
        '  },',
        '  "weight_map": {',
        '    "lm_head.weight": "model-00002-of-00003.safetensors",',
        '    "model.embed_tokens.weight": "model-00003-of-00003.safetensors",',
        '    "model.norm.weight": "model-00001-of-00003.safetensors"',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('a re-save replaces stale shards of an earlier save; a single-file re-save removes the old index', () => {
    const dir = nextDir();
    const ts = ['a', 'b', 'c', 'd'].map((name) => ({ name, dtype: 'F32' as const, shape: [4], data: new Float32Array(4).fill(1) }));
    writeShardedSafetensors(dir, ts, { maxShardBytes: 16 });
    expect(fs.readdirSync(dir).length).toBe(5);
    fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    writeShardedSafetensors(dir, ts, { maxShardBytes: 32 });
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    writeShardedSafetensors(dir, ts);
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    const ck = openCheckpoint(dir);
    expect(ck.keys()).toEqual(['a', 'b', 'c', 'd']);
    ck.close();
  });

  it('a failure mid-stream removes every temp file and leaves the folder as it was', () => {
    const dir = nextDir();
    writeShardedSafetensors(dir, [{ name: 'keep', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    const before = fs.readdirSync(dir).sort();
    const w = new ShardedCheckpointWriter(dir, { maxShardBytes: 8 });
    w.add({ name: 'a', dtype: 'F32', shape: [2], data: new Float32Array(2) });
    w.add({ name: 'big', dtype: 'F32', shape: [9], data: new Float32Array(9) });
    w.add({ name: 'b', dtype: 'F32', shape: [1], data: new Float32Array(1) });
    expect(fs.readdirSync(dir).some((f) => f.includes('.tmp-'))).toBe(true);
    expect(() => w.add({ name: 'c', dtype: 'I8', shape: [1], data: new Int32Array([999]) })).toThrow(SafetensorsError);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    expect(() => w.finish()).toThrow(/aborted/);
    // Same for the planned (array) path with a failing lazy producer.
    expect(() =>
      writeShardedSafetensors(dir, [
        { name: 'x', dtype: 'F32', shape: [4], data: new Float32Array(4) },
        { name: 'y', dtype: 'F32', shape: [4], data: () => { throw new Error('boom'); } },
      ], { maxShardBytes: 16 }),
    ).toThrow('boom');
    expect(fs.readdirSync(dir).sort()).toEqual(before);
  });

  it('refuses index entries that escape the folder, are absolute, or disagree with the shards', () => {
    const dir = nextDir();
    // p and q share shard 1, r is alone in shard 2.
    const ts = ['p', 'q', 'r'].map((name) => ({ name, dtype: 'F32' as const, shape: [2], data: new Float32Array(2) }));
    writeShardedSafetensors(dir, ts, { maxShardBytes: 16 });
    const indexPath = path.join(dir, 'model.safetensors.index.json');
    const good = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
    const attempt = (index: unknown, raw?: string): CheckpointError | SafetensorsError => {
      fs.writeFileSync(indexPath, raw ?? JSON.stringify(index));
      try {
        openCheckpoint(dir).close();
      } catch (e) {
        if (e instanceof CheckpointError || e instanceof SafetensorsError) return e;
        throw e;
      }
      throw new Error('accepted');
    };
    const outside = path.join(tmp, 'outside.safetensors');
    writeSafetensors(outside, [ts[0]!]);
    expect(attempt({ ...good, weight_map: { p: '../outside.safetensors' } }).message).toMatch(/tensor 'p': shard '..\/outside.safetensors' escapes the model folder/);
    expect(attempt({ ...good, weight_map: { p: 'sub/../../outside.safetensors' } }).message).toMatch(/escapes the model folder/);
    expect(attempt({ ...good, weight_map: { p: outside } }).message).toMatch(/absolute path/);
    expect(attempt({ ...good, weight_map: { p: 'C:\\evil.safetensors' } }).message).toMatch(/absolute path/);
    expect(good.weight_map).toEqual({ p: 'model-00001-of-00002.safetensors', q: 'model-00001-of-00002.safetensors', r: 'model-00002-of-00002.safetensors' });
    expect(attempt({ ...good, weight_map: { ...good.weight_map, s: 'model-00001-of-00002.safetensors' } }).message).toMatch(/tensor 's': the index puts it in 'model-00001-of-00002.safetensors' but that shard does not hold it/);
    expect(attempt({ ...good, weight_map: { p: good.weight_map.p, r: good.weight_map.r } }).message).toMatch(/tensor 'q': is in the shard but not in the index weight_map/);
    expect(attempt({ ...good, weight_map: { p: good.weight_map.p, q: good.weight_map.r, r: good.weight_map.r } }).message).toMatch(/tensor 'q'.*(index puts it in|does not hold it)/);
    expect(attempt({ ...good, weight_map: { ...good.weight_map, s: 'missing.safetensors' } }).message).toMatch(/shard 'missing.safetensors'.*does not exist/);
    expect(attempt({ ...good, metadata: { total_size: -1 } }).message).toMatch(/total_size/);
    expect(attempt({ ...good, weight_map: { p: 'pytorch_model-00001.bin' } }).message).toMatch(/pickled PyTorch weights are not loaded/);
    expect(attempt({ ...good, weight_map: { p: 3 } }).message).toMatch(/weight_map value must be a non-empty file name/);
    expect(attempt({ metadata: {} }).message).toMatch(/"weight_map" must be an object/);
    expect(attempt([1]).message).toMatch(/index must be a JSON object/);
    expect(attempt(null, '{"weight_map": {"p": "a", "p": "b"}}').message).toMatch(/key 'p' appears twice/);
    expect(attempt(null, '{"weight_map": ').message).toMatch(/not valid JSON/);
    fs.writeFileSync(indexPath, JSON.stringify(good));
    const ck = openCheckpoint(dir);
    expect(ck.files.length).toBe(2);
    ck.close();
  });

  it('refuses pickled checkpoints, ambiguous folders, and empty folders with clear messages', () => {
    const dir = nextDir();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'not really a pickle');
    expect(() => openCheckpoint(dir)).toThrow(/pytorch_model\.bin: pickled PyTorch weights are not loaded \(they can execute code\); convert to safetensors with `transformers`' save_pretrained\(safe_serialization=True\)/);
    expect(() => openCheckpoint(path.join(dir, 'pytorch_model.bin'))).toThrow(CheckpointError);
    fs.writeFileSync(path.join(dir, 'consolidated.pt'), '');
    expect(() => openCheckpoint(path.join(dir, 'consolidated.pt'))).toThrow(/pickled/);
    const empty = nextDir();
    fs.mkdirSync(empty);
    expect(() => openCheckpoint(empty)).toThrow(/no model\.safetensors or model\.safetensors\.index\.json/);
    expect(() => openCheckpoint(path.join(empty, 'nope'))).toThrow(CheckpointError);
    const both = nextDir();
    writeShardedSafetensors(both, [{ name: 'a', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    fs.writeFileSync(path.join(both, 'model.safetensors.index.json'), '{"weight_map": {}}');
    expect(() => openCheckpoint(both)).toThrow(/holds both/);
    // A single .safetensors file can be opened directly.
    const ck = openCheckpoint(path.join(both, 'model.safetensors'));
    expect(ck.keys()).toEqual(['a']);
    expect(() => ck.info('zz')).toThrow(/tensor 'zz': no such tensor/);
    ck.close();
  });
});
