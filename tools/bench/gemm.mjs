/**
 * Section 1, GEMM (@llama-moe/tensor-core): benchGemm's rows (native ORT and wasm-SIMD against
 * numpy and tfjs-backend-wasm, timed interleaved in the same run), the gpu.js rows in the mode
 * gpu.js actually selected, and main-memory copy bandwidth (the bound of batch-1 decode).
 */
import { attempt, log, pkg, row } from './util.mjs';

const GFLOPS = 'GFLOP/s';

/** Goals of issue 10 for benchGemm's rows, from their names. */
function gemmGoal(name) {
  if (name.includes(' native ')) return '>= 0.6';
  if (name.includes(' wasm-simd ') && !name.includes('(1T)')) return '>= 1.5';
  return undefined;
}

/**
 * numpy's GFLOP/s per shape, taken from the native rows' peer column. gpu.js multiplies by Wᵀ
 * ([out, in] weights) where benchGemm does not transpose; the FLOP count is the same.
 */
function numpyByShape(rows) {
  const find = (label) => rows.find((r) => r.name.startsWith(`matmul ${label} native`))?.peer ?? null;
  return {
    '1024x1024x1024': find('1024x1024x1024'),
    '512x4096 -> 688': find('expert up 512x4096->688'),
    '512x688 -> 4096': find('expert down 512x688->4096'),
  };
}

/**
 * @returns {Promise<{ rows: object[], peakGflops: number | null, copyBytesPerSec: number | null }>}
 */
export async function gemmSection() {
  const rows = [];
  let peakGflops = null;
  let copyBytesPerSec = null;
  const tc = await pkg('tensor-core');

  log('GEMM: benchGemm (native, wasm-simd, cpu vs numpy and tfjs-backend-wasm; ~1 min)');
  const gemmRows = [];
  await attempt(gemmRows, [{ name: 'matmul 1024x1024x1024 native vs numpy', unit: GFLOPS, goal: '>= 0.6' }], async () => {
    const got = await tc.benchGemm({ log: (l) => log(`  ${l}`) });
    // benchGemm reports ours = 0 where an engine is unavailable; the note says why
    return got.map((r) => row(r.name, r.ours || null, r.peer, r.unit, { ratio: r.ratio, goal: gemmGoal(r.name), note: r.note }));
  }, { load: false }); // benchGemm notes the foreign load per shape itself (its numpy child would count as foreign here)
  rows.push(...gemmRows);
  // the run's GEMM peak: the best native figure of this run over 1024³ and the expert and FFN
  // shapes (one disturbed measurement must not lower the bar the training step is held to)
  const native = gemmRows.filter((r) => /^matmul .* native/.test(r.name) && typeof r.ours === 'number' && r.ours > 0).map((r) => r.ours);
  peakGflops = native.length ? Math.max(...native) : null;

  log('GEMM: gpu.js (mode gpu.js selects; ~25 s)');
  await attempt(rows, [{ name: 'matmul 1024x1024x1024 [gpujs]', unit: GFLOPS }], async () => {
    const numpy = numpyByShape(gemmRows);
    const got = await tc.benchGpujs();
    return got.map((r) => {
      const shape = Object.keys(numpy).find((s) => r.name.includes(s));
      const peer = shape ? numpy[shape] : null;
      const note = `${r.note ?? ''}${peer !== null ? '; peer = numpy float32 @ on the same shape (from the native row)' : ''}`;
      return row(r.name, r.ours, peer, r.unit, { note });
    });
  });

  log('GEMM: copy bandwidth');
  await attempt(rows, [{ name: 'copy bandwidth (Float32Array#set, 256 MiB)', unit: 'GB/s' }], () => {
    const r = tc.benchCopyBandwidth();
    copyBytesPerSec = r.ours * 1e9;
    return [row(r.name, r.ours, r.peer, r.unit, { note: 'bytes copied / best of 5, one thread; for reference (decode is held to llama.cpp on the same model, rows below)' })];
  });
  return { rows, peakGflops, copyBytesPerSec };
}
