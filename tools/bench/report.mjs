/**
 * What the bench prints and writes: the machine description, the aligned stdout table, and
 * docs/PERFORMANCE.md (machine, date, table, per-row notes, method).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT } from './util.mjs';

/** The CPU, memory and software the figures were measured with. */
export function machineInfo() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  let flags = [];
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? cpu;
    flags = (/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/).filter((f) => /^(avx2|avx512f|avx512_bf16|fma)$/.test(f));
  } catch {
    // not Linux: os.cpus() is all there is
  }
  const py = spawnSync('python3', ['-c', [
    'import numpy as np',
    'try:\n    b = np.__config__.CONFIG["Build Dependencies"]["blas"]; blas = f"{b.get(\'name\')} {b.get(\'version\')}"\nexcept Exception:\n    blas = "?"',
    'print(np.__version__ + "|" + blas)',
  ].join('\n')], { encoding: 'utf8' });
  const [numpy, blas] = py.status === 0 ? py.stdout.trim().split('|') : [`unavailable (${(py.stderr || py.error?.message || '').trim().split('\n').pop()})`, ''];
  let ort = 'unavailable';
  try {
    const req = createRequire(join(ROOT, 'packages', 'tensor-core', 'package.json'));
    ort = JSON.parse(readFileSync(req.resolve('onnxruntime-node/package.json'), 'utf8')).version;
  } catch {
    // reported as unavailable; the native rows say why
  }
  return {
    cpu,
    cpuFlags: flags.join(' '),
    cores: os.availableParallelism(),
    memoryGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    numpy,
    blas,
    onnxruntimeNode: ort,
  };
}

/** Numbers with about 3 significant digits; thousands get separators. */
export function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toPrecision(3);
}

function fmtRatio(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return Math.abs(v) >= 0.1 ? v.toFixed(2) : v.toPrecision(2);
}

/** Whether a row meets its goal ('>= x' or '<= x' on the ratio); undefined without a goal or a ratio. */
export function goalMet(r) {
  const m = /^(>=|<=)\s*([\d.]+)$/.exec(r.goal ?? '');
  if (!m || r.ratio === null) return undefined;
  return m[1] === '>=' ? r.ratio >= Number(m[2]) : r.ratio <= Number(m[2]);
}

/** The stdout table: figure | ours | peer | unit | ratio, aligned (numbers right-aligned). */
export function renderTable(rows) {
  const head = ['figure', 'ours', 'peer', 'unit', 'ratio'];
  const body = rows.map((r) => [r.name, fmt(r.ours), fmt(r.peer), r.unit, fmtRatio(r.ratio)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const right = [false, true, true, false, true];
  const line = (cells) => cells.map((c, i) => (right[i] ? c.padStart(w[i]) : c.padEnd(w[i]))).join(' | ').trimEnd();
  return [line(head), w.map((n) => '-'.repeat(n)).join('-|-'), ...body.map(line)].join('\n');
}

const esc = (s) => String(s).replace(/\|/g, '\\|');

const METHOD = `## Method

- **One run, same machine.** Every peer is measured in the same run as ours, on the same machine, right before or
  interleaved with it; ratios never mix runs. Progress goes to stderr, the table to stdout (\`--json\`: the rows as
  JSON). Figures are best-of-N wall times unless a note says otherwise.
- **GEMM** (\`benchGemm\`, \`benchGpujs\` of @llama-moe/tensor-core): fp32 C = A·B, GFLOP/s = 2·M·N·K / best time.
  \`native\` is onnxruntime-node's MLAS sgemm, \`wasm-simd\` our WebAssembly SIMD kernel with its worker pool (the portable
  path, no native code). numpy (float32 \`@\`, OpenBLAS with threads = cores) runs in a persistent python3 process
  interleaved round by round with ours; tfjs-backend-wasm (XNNPACK, single-threaded in Node) is the portable peer.
  Each of our results is spot-checked against float64 dot products. gpu.js rows run in the mode gpu.js actually
  selected (WebAssembly on a machine without a GPU), one warm-up and one timed call; their peer is numpy on the same
  shape from the native rows.
- **Inference, beside llama.cpp** (tools/bench/inference.mjs, llamacpp-child.mjs): random weights of the stories15M /
  stories110M shapes, dense and a 4-of-16 MoE split from the same dense model (random partition, linear top-k gate
  without noise, LLaMA-MoE's score scale E/k), f32. Each model is written as an f32 GGUF by the project's own writer
  (\`writeMoeGguf\`, what \`llama-moe export --format gguf\` runs) and loaded in llama.cpp through node-llama-cpp 3.21.1
  (\`getLlama({ gpu: false, build: 'never' })\`: its prebuilt CPU build, nothing compiled), 2 threads, f32 KV cache, no
  flash attention; ours runs \`generate\` of @llama-moe/llama-model on the fast backend chain (native GEMM with 2
  threads, wasm SIMD) after \`model.pinWeights()\`, as \`llama-moe generate\` does: weights of 96 K to 4 M floats
  live in a WebAssembly memory shared with a worker, and decode's products on them run on the wasm matrix–vector
  kernel reading them in place on both threads; other products whose matrix is at most 1 MiB run on the same kernel
  after a copy on the calling thread, larger ones (the LM head) on native; attention reads the head-major KV cache in
  place. Prefill on pinned weights copies them for onnxruntime. Prefill = one forward over a 128- or 512-token prompt (the 256-token context of stories15M is
  raised to 1024: RoPE has no position table, so nothing else changes); decode = 64 greedy one-token steps with the
  KV cache after a 128-token prompt, timed from the first generated token. Both engines run in one child process per
  model, after one untimed prefill and one untimed decode each, in alternated rounds (which engine goes first
  alternates too), and the best round of each is compared.
  The sparsity dividend is MoE decode tok/s ÷ dense decode tok/s of the same shape, for each engine (the FFN is 25 %
  as large per token; attention and the LM head are not). "wasm only" is the WebAssembly backend alone (what a browser runs), "cpu (plain TypeScript)" the oracle backend; no peer for either.
- **Sparsity dividend** (\`benchMoeFfn\` of @llama-moe/expert-partition): one SwiGLU FFN (D 4096, F 11008) and the
  4-of-16 MoE split from it (random partition, noisy top-k gate, tokens grouped per expert into contiguous GEMMs), same
  512 tokens, best of 5 runs each, alternating, in a fresh child process, on the default backend chain (native GEMM; the wasm backend runs the combine scatter-add); ideal ratio
  0.25.
- **Training, beside PyTorch** (tools/bench/train.mjs, train-child.mjs, torch_train.py): one training step of batch
  4 × 128 (forward, cross-entropy on the next token, backward, global grad-norm clip to 1, AdamW with lr 1e-5, betas
  0.9 / 0.95, weight decay 0.1) on random tokens, for the demo model's shape (dim 64, 4 layers, vocab 1024), the Brown
  model's shape (dim 256, 6 layers, GQA 4 / 2 heads, vocab 4096), stories15M and stories110M; dense, and MoE 2-of-8 on
  the two small shapes, 4-of-16 on the stories shapes (random partition, linear top-k gate, no noise, no token
  dropping, no balance loss). Ours is \`benchTrainStep\` of @llama-moe/trainer in a fresh child process on native GEMM
  and the wasm backend's SIMD kernels, with V8's concurrent marking and sweeping off as \`llama-moe train\` runs
  (packages/cli/bin/node-flags.mjs). The peer is a plain PyTorch LLaMA / LLaMA-MoE of the same shape, FLOPs, loss,
  clip and optimizer (experts gathered with index_select and scattered back with index_add, as HF's Mixtral block)
  on Debian's python3-torch, \`torch.set_num_threads(2)\`, OMP_WAIT_POLICY=PASSIVE and OpenBLAS (OpenMP): Debian's
  torch links libblas.so.3, netlib's reference BLAS (25–35× slower) unless OpenBLAS provides it, so the bench puts the
  openblas-openmp directory first on LD_LIBRARY_PATH, reads the BLAS torch actually mapped from /proc/self/maps and
  times a 1024³ sgemm; with netlib (or without python3-torch) there is no PyTorch peer. Each run reports its median step
  after a warm-up; runs alternate ours / PyTorch (the first alternates too) and the best round of each is compared.
  The stories MoE rows also give achieved GFLOP/s = model FLOPs per token (6 × weights a token passes through +
  attention, an MoE layer counting its gate and its k routed experts) × tokens/s against the best native GEMM figure
  of this run.
- **Data** (\`benchPack\` of @llama-moe/data-sampler): tokenise + add BOS/EOS + pack into 2048-token blocks on ~20 MB of
  the generated SlimPajama-like corpus (generation not timed). The LLaMA-2 BPE tokenizer is generated by llama-model's
  trainer from its sample texts and adapted as \`llama-moe data prepare\` adapts it.
- **Conversion** (\`splitStreaming\` of @llama-moe/expert-partition): a LLaMA-2-7B-shaped dense checkpoint (hidden 4096,
  F 11008, vocab 32000, bf16, random weights from the CLI's streaming \`init\`, 4 layers; written once into
  \`/tmp/llama-moe-bench\` and reused) is split with \`random\` into 16 experts, top-4, LLaMA-MoE format, in a child
  process that reports its own peak RSS (VmHWM: ru_maxrss would include the parent's RSS, which Linux carries over
  fork + exec). The baseline copies the same safetensors files with \`copyFileSync\` + \`fsync\` (the split's writer
  fsyncs too); copy and split alternate 4 times each (\`sync\` before every timed run) and the best of each is
  compared, because this VM's page-cache writes swing 2–4× from minute to minute; the input is in the page cache for
  both. The split writes in 128 KiB calls (measured: 6× less kernel time than 8 MiB calls here) and gathers the
  down_proj experts in WebAssembly.
  "Does not grow" is shown by the same split at 2 layers and by \`writePackedDataset\` (what \`data prepare\` runs) on
  10 MB and 40 MB generated corpora (shards of 128 blocks, so both are several shards deep: the writer holds one
  shard in memory, ~16M tokens by default, which would dominate at these sizes), each in its own child process; the goal \`<= 1.25\` on those ratios says the peak
  stays flat while the input doubles or quadruples. \`clustering\` is \`benchClustering\`: balanced k-means over the
  rows of one layer's up_proj (11008 × 4096) into 16 experts, on the native GEMM.
- Goals are the targets of the issues, stated on the ratio column: ✓ met, ✗ not met in this run.
`;

/* The per-op profile section of docs/PERFORMANCE.md is tools/bench/profile.mjs's; `pnpm bench` keeps it. */
export const PROFILE_START = '<!-- profile:start (written by node tools/bench/profile.mjs; not by hand) -->';
export const PROFILE_END = '<!-- profile:end -->';

/** The profile section of an existing docs/PERFORMANCE.md text (markers included), or ''. */
export function extractProfile(text) {
  const a = text.indexOf('<!-- profile:start');
  const b = text.indexOf(PROFILE_END);
  return a >= 0 && b > a ? text.slice(a, b + PROFILE_END.length) : '';
}

/** Put `section` into `text` in place of its profile section, or append it. */
export function insertProfile(text, section) {
  const old = extractProfile(text);
  if (old) return text.replace(old, () => section);
  return `${text.trimEnd()}\n\n${section}\n`;
}

/** docs/PERFORMANCE.md. */
export function renderMarkdown({ machine, date, rows, seconds, load, profile = '' }) {
  const m = machine;
  const busy = rows.filter((r) => /machine busy/.test(r.note ?? '')).length;
  const lines = [
    '# Performance',
    '',
    `Written by \`pnpm bench\` (tools/bench.mjs) on ${date}; the whole run took ${(seconds / 60).toFixed(1)} min. Regenerate with \`pnpm bench\`;`,
    '`pnpm -s bench --json` prints the same rows as JSON, and nothing else on stdout. The profile section at the end (where',
    'a step\'s time goes, op by op) is written by `node tools/bench/profile.mjs` and kept as it is by `pnpm bench`.',
    '',
    '## Machine',
    '',
    '| | |',
    '|---|---|',
    `| CPU | ${esc(m.cpu)}${m.cpuFlags ? ` (${m.cpuFlags})` : ''} |`,
    `| cores | ${m.cores} |`,
    `| memory | ${m.memoryGiB.toFixed(1)} GiB |`,
    `| OS | ${esc(m.os)} |`,
    `| Node | ${m.node} |`,
    `| numpy | ${esc(m.numpy)}${m.blas ? ` (${esc(m.blas)})` : ''} |`,
    `| onnxruntime-node | ${esc(m.onnxruntimeNode)} |`,
    `| load average (1 min), start / end of the run | ${load ? load.map((x) => x.toFixed(2)).join(' / ') : '?'} |`,
    '',
    ...(busy
      ? [
          `Other processes shared the CPU during this run (${busy} row${busy === 1 ? '' : 's'} carry a "machine busy" note with the share they took).`,
          'Absolute figures then read low; peers timed interleaved with ours (the GEMM rows) keep their ratios best.',
          '',
        ]
      : []),
    '## Results',
    '',
    '| figure | ours | peer | unit | ratio | goal |',
    '|---|---:|---:|---|---:|---|',
    ...rows.map((r) => {
      const met = goalMet(r);
      const goal = r.goal ? `${r.goal}${met === undefined ? '' : met ? ' ✓' : ' ✗'}` : '';
      return `| ${esc(r.name)} | ${fmt(r.ours)} | ${fmt(r.peer)} | ${esc(r.unit)} | ${fmtRatio(r.ratio)} | ${esc(goal)} |`;
    }),
    '',
    '## Notes per row',
    '',
    ...rows.filter((r) => r.note).map((r) => `- **${esc(r.name)}**: ${r.note}`),
    '',
    METHOD,
    ...(profile ? [profile, ''] : []),
  ];
  return lines.join('\n');
}
