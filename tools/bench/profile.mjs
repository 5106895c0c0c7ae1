#!/usr/bin/env node
/**
 * Where the time goes: a per-op breakdown of one training step and of one decode step, written
 * into docs/PERFORMANCE.md between the `<!-- profile:start -->` / `<!-- profile:end -->` markers
 * (the rest of the file is `pnpm bench`'s; `pnpm bench` keeps this section as it is).
 *
 *   node tools/bench/profile.mjs            print the section and write it into docs/PERFORMANCE.md
 *   node tools/bench/profile.mjs --print    print it only
 *
 * Every kernel of tensor-core's registry (matmul, softmax, rmsnorm, swiglu, adamw, …, on whichever
 * backend ran it) is wrapped with a timer, so a step splits into its kernels plus "outside the
 * kernels": the TypeScript between them (autograd bookkeeping, gathers, reshapes and copies,
 * elementwise code that has no kernel, allocation and GC). Matmuls are also split by shape.
 * Training: forward, loss, backward, grad-norm + clip, AdamW timed as phases (batch 4 × 128, the
 * median of the timed steps' totals; the breakdown sums all timed steps). Decode: 64 one-token
 * steps after a 128-token prompt (the prefill is not counted). Models: the stories15M shape,
 * dense and MoE 4/16 (linear top-k gate, as in the bench's peer rows), and for training also the
 * demo shape's MoE 2/8 (dim 64: the smallest experts, where dispatch matters most), random weights, on the
 * fastest backend chain (native → wasm → cpu), the node flags of `llama-moe train`. Takes ~1–2 min.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMPUTE_NODE_FLAGS } from 'llama-moe/node-flags';
import { insertProfile, PROFILE_END, PROFILE_START } from './report.mjs';
import { ROOT, writeFileAtomic } from './util.mjs';

const pct = (x, total) => `${((100 * x) / total).toFixed(1)} %`;
const calls = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const ms = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

function table(title, total, entries, unitLabel) {
  const lines = [`| ${title} | ms ${unitLabel} | share |`, '|---|---:|---:|'];
  for (const [name, t] of entries) lines.push(`| ${name} | ${ms(t)} | ${pct(t, total)} |`);
  return lines.join('\n');
}

function renderCase(c) {
  const out = [];
  const per = c.per; // divide sums by this to get per-step figures
  const kernels = Object.entries(c.kernels).sort((a, b) => b[1].ms - a[1].ms);
  const kernelMs = kernels.reduce((s, [, k]) => s + k.ms, 0);
  out.push(`### ${c.title}`, '', `${c.what}. ${ms(c.stepMs)} ms per ${c.unit} (${c.detail}); ${pct(kernelMs, c.totalMs)} of it inside registry kernels.`, '');
  if (c.phases) {
    out.push(table('phase', c.totalMs / per, Object.entries(c.phases).map(([k, v]) => [k, v / per]), `per ${c.unit}`), '');
  }
  const rows = kernels.map(([name, k]) => [`${name} (${calls(k.calls / per)} calls)`, k.ms / per]);
  rows.push(['outside the kernels (TypeScript between them: autograd, gathers, copies, allocation, GC)', (c.totalMs - kernelMs) / per]);
  out.push(table('kernel / backend', c.totalMs / per, rows, `per ${c.unit}`), '');
  const headMs = Object.entries(c.matmulShapes).filter(([k]) => k.startsWith('LM head')).reduce((t, [, v]) => t + v.ms, 0);
  if (headMs > 0) out.push(`The LM head's matmuls (the vocab × dim weight and its gradients) take ${ms(headMs / per)} ms per ${c.unit}, ${pct(headMs, c.totalMs)} of the ${c.unit}.`, '');
  const shapes = Object.entries(c.matmulShapes).sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
  if (shapes.length) {
    out.push(`Largest matmul shapes (batch × M×K·K×N, transposes; GFLOP/s achieved inside the kernel):`, '');
    out.push('| matmul shape | calls | ms | GFLOP/s |', '|---|---:|---:|---:|');
    for (const [s, v] of shapes) out.push(`| ${s} | ${calls(v.calls / per)} | ${ms(v.ms / per)} | ${(v.flops / (v.ms / 1000) / 1e9).toFixed(1)} |`);
    out.push('');
  }
  return out.join('\n');
}

function renderGemv(list) {
  const bes = ['native', 'wasm', 'wasm, pinned', 'cpu'].filter((b) => list.some((g) => g.ms[b] !== undefined));
  return [
    '### Decode products on each backend (tried: which backend a one-row product should run on)',
    '',
    'One-row products of a decode step (stories110M shape), µs per call, each call on a different copy of the weight',
    '(64 MiB of copies, so the weight comes from memory as in a real decode step); GB/s = weight bytes ÷ time.',
    '"wasm, pinned": the copies pinned (`pinTensors`, every size here), read in place on every thread. `model.pinWeights()`',
    '(what `llama-moe generate` calls) pins 96 K to 4 M floats: smaller matrices are faster on the copying path, and the LM',
    'head is left to native, which reads it as fast (or faster) and, unpinned, without a copy at prefill.',
    '',
    `| product | ${bes.map((b) => `${b} µs (GB/s)`).join(' | ')} |`,
    `|---|${bes.map(() => '---:').join('|')}|`,
    ...list.map((g) => `| ${g.shape} | ${bes.map((b) => (g.ms[b] === undefined ? '—' : `${(g.ms[b] * 1000).toFixed(0)} (${(g.bytes / (g.ms[b] / 1000) / 1e9).toFixed(1)})`)).join(' | ')} |`),
    '',
    `Fastest: ${list.map((g) => `${g.shape.split(' (')[1]?.replace(')', '') ?? g.shape} → ${bes.reduce((x, y) => ((g.ms[y] ?? Infinity) < (g.ms[x] ?? Infinity) ? y : x))}`).join('; ')}.`,
    '',
  ];
}

function renderMoeLayers(list) {
  return [
    '### Decode: one MoE layer, a token\'s experts in one call',
    '',
    'One MoE layer (4 of 16 experts, linear gate) of each shape, one token at a time with no graph, experts pinned: the',
    'token\'s experts in one `swigluExperts` call (the weight arena reads them in place in two fork-joins) against the',
    'per-expert path (per expert three products, a SwiGLU and a scatter-add; `groupedDecode: false`). µs per token, the',
    'median of 40 alternated blocks of 64 tokens.',
    '',
    '| layer | expert gate / up | pinned with | per expert µs | one call µs | ratio |',
    '|---|---|---|---:|---:|---:|',
    ...list.map((m) => `| ${m.label} | ${m.expert} | \`pinWeights(${Object.keys(m.pinOpts).length ? JSON.stringify(m.pinOpts).replace(/"/g, '') : ''})\` | ${m.us['per expert'].toFixed(0)} | ${m.us.grouped.toFixed(0)} | ${(m.us['per expert'] / m.us.grouped).toFixed(2)}× |`),
    '',
  ];
}

const READING = `### Reading

- Training: the matmuls are most of a step (native MLAS, two threads), and the LM head's three products (forward,
  input gradient, weight gradient over the 32000-token vocabulary) are the largest of them on the stories shapes;
  in an MoE step attention, the LM head and the optimizer do not shrink with routing, and the expert products are
  many and small. Each expert's SwiGLU chain is one op (swigluMlp: [gate; up] as one product, six matmul calls
  forward + backward instead of nine). The native backend's \`smallProductFlops\` option (0.75 MFLOP by default) sends
  multi-row products under that size to the wasm kernel, which has no ORT dispatch (~25 µs a call). "Outside the kernels" is the TypeScript between kernels (autograd, expert gathers and scatters,
  copies, allocation).
- Decode: a one-token step is a chain of matrix–vector products, each reading its whole weight once; the LM head is
  read in full every token whatever the routing, which caps the sparsity dividend (the dividend rows give the bound
  from the weights read per token). The weights are pinned (\`model.pinWeights()\`, as \`llama-moe generate\` does):
  they live in a WebAssembly memory shared with a worker, and every product whose matrix has at least 96 K floats
  runs on the wasm matrix–vector kernel reading it in place, split over both threads, with no ORT dispatch or
  thread hand-off (25–50 µs a call before; the worker polls for about 2 ms between products instead of
  sleeping, because a futex wake-up on this VM costs as much as a small product). Smaller matrices (a stories15M
  MoE's experts) are copied into the kernel's memory first: read in place they are a few short strided streams
  and were slower. An MoE layer's experts are pinned together or not at all (\`pinTensors\`' groups): once pinned,
  a token's experts, routed and shared, run in one \`swigluExperts\` call instead of three products each (the
  table above); a stories15M-shaped MoE's experts stay unpinned by default, because pinned its prefill would copy each
  of them for onnxruntime. Unpinned weights take the older path (wasm copying kernel up to 1 MiB, native above). The KV
  cache is head-major, so attention reads it in place instead of permuting the whole cache every token. The rest
  of a step is TypeScript between the kernels.`;

export function renderProfile(res) {
  const lines = [
    PROFILE_START,
    '## Profile: where the time goes',
    '',
    `Measured by \`node tools/bench/profile.mjs\` on ${res.date} (${res.machine}, load average ${res.load.map((x) => x.toFixed(2)).join(' / ')} at start / end; `,
    `backends ${res.chain.join('→')}). Every registry kernel is wrapped with a timer; "outside the kernels" is the rest of the`,
    'wall time. Read beside the rows above: a goal missed is explained by the largest lines here.',
    '',
    ...res.cases.map(renderCase),
    ...(res.gemv ? renderGemv(res.gemv) : []),
    ...(res.moeLayers?.length ? renderMoeLayers(res.moeLayers) : []),
    READING,
    '',
    PROFILE_END,
  ];
  return lines.join('\n');
}

/** Runs in a child process (fresh heap, `llama-moe train`'s node flags): one case, JSON out. */
async function childMain(arg) {
  const { importPkg } = await import('./child-common.mjs');
  const tc = await importPkg('tensor-core');
  const lm = await importPkg('llama-model');
  const ep = await importPkg('expert-partition');
  const tr = await importPkg('trainer');
  const ready = await tc.useDefaultBackend({ prefer: ['native', 'wasm'] });

  const base = arg.config ? JSON.parse(readFileSync(join(ROOT, arg.config), 'utf8')) : lm.presetConfig(arg.preset);
  const cfg = lm.parseLlamaConfig({ ...base, torch_dtype: 'float32', max_position_embeddings: 1024 });
  let model = lm.LlamaForCausalLM.random(cfg, { seed: 1 });
  if (arg.experts) {
    const L = cfg.num_hidden_layers, F = cfg.intermediate_size;
    const sizes = ep.resolveSizes(F, arg.experts);
    const partition = Array.from({ length: L }, (_, layer) => ep.randomPartition(F, sizes, { seed: 0, layer }).experts);
    const spec = { ...ep.defaultMoeSpec(L, F, arg.experts, arg.topK), gateNetwork: 'linear', gateAddNoise: false, dropTokens: false, gateUseBalance: false, sizeExperts: Array.from({ length: L }, () => [...sizes]) };
    model = ep.buildMoeFromDense(model, { spec, format: 'llama-moe', partition, gateInit: 'random', seed: 0, method: 'random' });
  }

  // wrap every registered kernel with a timer
  const acc = { kernels: {}, shapes: {}, on: false };
  for (const { kernel, backend } of tc.listKernels()) {
    const reg = tc.getKernel(kernel, backend);
    const fn = reg.fn;
    const key = `${kernel} / ${backend}`;
    tc.registerKernel({
      ...reg,
      fn: (args) => {
        if (!acc.on) return fn(args);
        const t0 = performance.now();
        fn(args);
        const dt = performance.now() - t0;
        const k = (acc.kernels[key] ??= { ms: 0, calls: 0 });
        k.ms += dt;
        k.calls++;
        if (kernel === 'matmul') {
          const head = [args.m, args.n, args.k].includes(cfg.vocab_size) ? 'LM head ' : '';
          const s = `${head}${args.batch}× ${args.m}×${args.k}·${args.k}×${args.n}${args.transA ? ' Aᵀ' : ''}${args.transB ? ' Bᵀ' : ''} (${backend})`;
          const v = (acc.shapes[s] ??= { ms: 0, calls: 0, flops: 0 });
          v.ms += dt;
          v.calls++;
          v.flops += 2 * args.batch * args.m * args.n * args.k;
        }
      },
    });
  }
  const reset = () => { acc.kernels = {}; acc.shapes = {}; };
  const label = `${arg.config ? arg.config.split('/').slice(-2, -1)[0] : arg.preset} shape ${arg.experts ? `MoE ${arg.topK}/${arg.experts}` : 'dense'}`;

  if (arg.mode === 'train') {
    const B = 4, T = 128, V = cfg.vocab_size;
    const rng = tc.createRng(0);
    model.setTrainable(true);
    const named = model.namedParameters();
    const params = named.map(([, t]) => t);
    const opt = new tr.AdamW({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 });
    const phases = { forward: 0, 'cross-entropy': 0, backward: 0, 'grad norm + clip': 0, AdamW: 0 };
    const totals = [];
    const step = (timed) => {
      const ids = new Int32Array(B * T);
      for (let i = 0; i < ids.length; i++) ids[i] = rng.int(V);
      const t = [performance.now()];
      tr.zeroGrad(params);
      const x = tc.indices(ids, [B, T]);
      const out = model.forward(x, { training: true });
      t.push(performance.now());
      const loss = lm.causalLmLoss(out.logits, x, null);
      const total = out.auxLoss ? tc.add(loss, out.auxLoss) : loss;
      total.item();
      t.push(performance.now());
      total.backward(null, { releaseActivations: true });
      t.push(performance.now());
      const coef = tr.clipCoefficient(tr.globalGradNorm(params), 1);
      t.push(performance.now());
      opt.step(named, 1e-5, { gradScale: coef });
      t.push(performance.now());
      if (timed) {
        Object.keys(phases).forEach((k, i) => { phases[k] += t[i + 1] - t[i]; });
        totals.push(t[5] - t[0]);
      }
    };
    step(false);
    acc.on = true;
    reset();
    for (let s = 0; s < arg.steps; s++) step(true);
    const sorted = [...totals].sort((a, b) => a - b);
    return {
      title: `Training step, ${label}, batch ${B} × ${T}`, what: 'forward, cross-entropy, backward, grad-norm clip, AdamW (one 512-token micro-batch per optimizer step)',
      unit: 'step', per: arg.steps, stepMs: sorted[sorted.length >> 1], totalMs: totals.reduce((a, b) => a + b, 0),
      detail: `median of ${arg.steps} timed steps after a warm-up: ${totals.map((x) => x.toFixed(0)).join(', ')} ms`,
      phases, kernels: acc.kernels, matmulShapes: acc.shapes, chain: ready.chain,
    };
  }
  if (arg.mode === 'gemv') {
    // what was tried for decode: each one-row product of the decode step on every backend (weights cache-cold: a fresh copy per call)
    const D = cfg.hidden_size, Fd = cfg.intermediate_size, V = cfg.vocab_size;
    const res = [];
    for (const [k, n, what] of [[D, D, 'attention projection'], [D, Fd, 'FFN gate / up'], [Fd, D, 'FFN down'], [D, Fd / 16, 'expert gate / up (4/16)'], [D, V, 'LM head']]) {
      const copies = Math.max(2, Math.ceil((64 << 20) / (4 * n * k)));
      const bs = Array.from({ length: copies }, () => Float32Array.from({ length: n * k }, (_, i) => ((i * 7) % 13) / 13 - 0.5));
      const x = new Float32Array(k).fill(0.5), out = new Float32Array(n);
      /** best of 3 passes over the copies, ms per call */
      const time = (fn, mats) => {
        let best = Infinity;
        for (let r = 0; r < 3; r++) {
          const t0 = performance.now();
          for (const b of mats) fn({ a: x, b, out, batch: 1, m: 1, n, k, transA: false, transB: true, aStride: 0, bStride: 0, accumulate: false });
          best = Math.min(best, (performance.now() - t0) / mats.length);
        }
        return best;
      };
      const t = {};
      for (const be of ['native', 'wasm', 'cpu']) {
        const reg = tc.getKernel('matmul', be);
        if (reg) t[be] = time(reg.fn, bs);
      }
      // the same copies pinned (model.pinWeights()): the wasm kernel reads them in place on every thread
      const pinned = bs.map((b) => new tc.Tensor(b, [n, k]));
      await tc.pinTensors(pinned, { maxFloats: Infinity }); // every size, so the table shows why pinWeights leaves the LM head out
      t['wasm, pinned'] = time(tc.getKernel('matmul', 'wasm').fn, pinned.map((p) => p.data));
      res.push({ shape: `1×${k}·${k}×${n} Bᵀ (${what})`, ms: t, bytes: 4 * n * k });
    }
    return { gemv: res, chain: ready.chain };
  }
  if (arg.mode === 'moelayer') {
    // one MoE layer's decode step (one token, no graph), its experts pinned: the token's experts in
    // one swigluExperts call against the per-expert path (three products, a SwiGLU, a scatter-add
    // each), blocks of 64 tokens alternated, the median block
    const pin = await model.pinWeights(arg.pin ?? {});
    const layer = model.weights.layers[0].mlp;
    const D = cfg.hidden_size;
    const xs = Array.from({ length: 64 }, (_, i) => new tc.Tensor(Float32Array.from({ length: D }, (_, j) => Math.sin(i * 31 + j)), [1, D]));
    const ctx = { training: false, auxLosses: [], layer: 0, records: [], collectStats: false };
    const block = () => { const t0 = performance.now(); for (const x of xs) tc.noGrad(() => layer.forward(x, ctx)); return ((performance.now() - t0) / xs.length) * 1000; };
    const us = { grouped: [], 'per expert': [] };
    for (let r = 0; r < 40; r++) for (const m of r % 2 ? ['grouped', 'per expert'] : ['per expert', 'grouped']) { layer.opts.groupedDecode = m === 'grouped'; us[m].push(block()); }
    const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
    const e = layer.experts[0];
    return { moeLayer: { label, expert: `${e.gate.shape[0]}×${D}`, pinned: pin?.tensors ?? 0, pinOpts: arg.pin ?? {}, us: { grouped: med(us.grouped), 'per expert': med(us['per expert']) } }, chain: ready.chain };
  }
  // as `llama-moe generate` and the bench's decode rows do
  await model.pinWeights();
  // decode: 64 one-token steps after a 128-token prompt
  const prompt = Array.from({ length: 128 }, (_, i) => 3 + ((i * 7919) % 381));
  lm.generate(model, prompt.slice(0, 8), { maxNewTokens: 2, stopTokens: [] }); // warm-up
  const it = lm.generateSteps(model, prompt, { maxNewTokens: 65, stopTokens: [] });
  it.next(); // the prefill and the first token
  acc.on = true;
  reset();
  const t0 = performance.now();
  let n = 0;
  for (;;) { const r = it.next(); if (r.done) break; n++; }
  const totalMs = performance.now() - t0;
  return {
    title: `Decode step, ${label}`, what: 'one token through the model with the KV cache (after a 128-token prompt, greedy)',
    unit: 'token', per: n, stepMs: totalMs / n, totalMs, detail: `mean of ${n} tokens, ${(n / (totalMs / 1000)).toFixed(1)} tok/s`,
    kernels: acc.kernels, matmulShapes: acc.shapes, chain: ready.chain,
  };
}

async function main() {
  const print = process.argv.includes('--print');
  const { loadavg, cpus } = await import('node:os');
  const load = [loadavg()[0]];
  const cases = [];
  const runs = [
    { mode: 'train', preset: 'stories15M', experts: 0, steps: 4 },
    { mode: 'train', preset: 'stories15M', experts: 16, topK: 4, steps: 4 },
    { mode: 'train', config: 'packages/cli/assets/demo-model/config.json', experts: 8, topK: 2, steps: 12 },
    { mode: 'decode', preset: 'stories15M', experts: 0 },
    { mode: 'decode', preset: 'stories15M', experts: 16, topK: 4 },
    { mode: 'gemv', preset: 'stories110M', experts: 0 },
    { mode: 'moelayer', preset: 'stories110M', experts: 16, topK: 4 },
    { mode: 'moelayer', preset: 'stories15M', experts: 16, topK: 4, pin: { minFloats: 8192 } },
  ];
  let chain = [];
  let gemv = null;
  const moeLayers = [];
  for (const r of runs) {
    process.stderr.write(`[profile] ${r.mode} ${r.preset ?? r.config} ${r.experts ? `MoE ${r.topK}/${r.experts}` : 'dense'}\n`);
    const c = spawnSync(process.execPath, [...COMPUTE_NODE_FLAGS, join(ROOT, 'tools', 'bench', 'profile.mjs'), '--child', JSON.stringify(r)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
    if (c.status !== 0) {
      process.stderr.write(`profile: ${r.mode} ${r.preset ?? r.config} failed: ${(c.stderr || '').trim().split('\n').pop()}\n`);
      return 1;
    }
    const got = JSON.parse(c.stdout.trim().split('\n').pop());
    chain = got.chain;
    if (got.gemv) gemv = got.gemv;
    else if (got.moeLayer) moeLayers.push(got.moeLayer);
    else cases.push(got);
  }
  load.push(loadavg()[0]);
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
  const section = renderProfile({ date: new Date().toISOString(), machine, load, chain, cases, gemv, moeLayers });
  process.stdout.write(`${section}\n`);
  if (!print) {
    const doc = join(ROOT, 'docs', 'PERFORMANCE.md');
    const text = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Performance\n';
    writeFileAtomic(doc, insertProfile(text, section));
    process.stderr.write(`[profile] wrote the profile section of ${doc}\n`);
  }
  return 0;
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain && process.argv[2] === '--child') {
  try {
    const r = await childMain(JSON.parse(process.argv[3]));
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n`);
    process.exit(1);
  }
} else if (isMain) {
  main().then((c) => process.exit(c), (e) => { process.stderr.write(`profile: ${e instanceof Error ? e.message : String(e)}\n`); process.exit(1); });
}
