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
- **Inference** (\`benchInference\` of @llama-moe/llama-model): random weights of the stories15M / stories110M shapes,
  a 128-token prompt (prefill = one forward) then 32 greedy tokens with the KV cache. The decode bound is the copy
  bandwidth of this run (\`Float32Array#set\` over 256 MiB) divided by the f32 weight bytes: each weight byte is read
  once per token. "native→wasm→cpu" is \`setBackend(['native', 'wasm'])\`; "cpu" is the plain TypeScript oracle.
- **Sparsity dividend** (\`benchMoeFfn\` of @llama-moe/expert-partition): one SwiGLU FFN (D 4096, F 11008) and the
  4-of-16 MoE split from it (random partition, noisy top-k gate, tokens grouped per expert into contiguous GEMMs), same
  512 tokens, best of 5 runs each, alternating, in a fresh child process, on the default backend chain (native GEMM; the wasm backend runs the combine scatter-add); ideal ratio
  0.25.
- **Training** (\`benchTrainStep\` of @llama-moe/trainer): stories15M- and stories110M-shaped 4/16 LLaMA-MoE models
  (random dense weights split with \`random\`, random gates; vocab 32000) take forward + backward + clip + AdamW steps on
  random tokens after one warm-up step (the median of 5 / 4 timed steps is reported), one 512-token micro-batch per optimizer step (no gradient accumulation, so
  the optimizer is not amortised), native GEMM and the wasm backend's SIMD kernels (AdamW, softmax / cross-entropy
  exponentials, RMSNorm backward, MoE combine, gradient accumulation and norm). Achieved GFLOP/s = model FLOPs per token
  × tokens/s, with the model FLOPs (6 × weights a token passes through + attention) counted from the model's modules:
  an MoE layer counts its gate, its k routed experts and its shared experts, not all E (76.2 and 418 MFLOP/token here;
  figures before 2026-11-24 counted the in-memory split by its dense config, all 16 experts, 23–60 % too high). The peer is
  the best native GEMM figure of this run (1024³, expert and FFN shapes; before 2026-11-24 the 1024³ figure alone, which a
  disturbed measurement could lower). The step releases its activations to autograd's buffer pool after the backward, so
  the next step's forward allocates almost nothing (no page faults or external-memory GCs for ~0.6 GB per stories110M
  step), and attention's scale, causal mask, softmax and softmax gradient run as one SIMD kernel each. The child runs
  with V8's concurrent marking and sweeping off, as \`llama-moe train\` runs (packages/cli/bin/node-flags.mjs):
  onnxruntime-node copies every GEMM output into a fresh ArrayBuffer (~1.1 GB in ~2,000 calls per stories110M step),
  and V8's concurrent GC threads cleaning up after it took cores from MLAS's two threads (interleaved runs: 60–74
  GFLOP/s with node's defaults, 73–85 without concurrent GC). What keeps it below the GEMM peak: its GEMMs (hidden 288 / 768, K or N = 288 in the LM head, 48- /
  128-wide experts, attention's 64-deep per-head products) run at ~40–140 GFLOP/s in MLAS inside a step, that output
  copy, and the elementwise work and the optimizer, which run on one core while the GEMMs use two.
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

/** docs/PERFORMANCE.md. */
export function renderMarkdown({ machine, date, rows, seconds, load }) {
  const m = machine;
  const busy = rows.filter((r) => /machine busy/.test(r.note ?? '')).length;
  const lines = [
    '# Performance',
    '',
    `Written by \`pnpm bench\` (tools/bench.mjs) on ${date}; the whole run took ${(seconds / 60).toFixed(1)} min. Regenerate with \`pnpm bench\`;`,
    '`pnpm -s bench --json` prints the same rows as JSON, and nothing else on stdout.',
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
  ];
  return lines.join('\n');
}
