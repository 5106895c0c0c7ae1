/**
 * Calibration sequences for the data-driven expert constructions, read from a packed dataset
 * (`llama-moe data prepare`): blocks drawn uniformly over its domains with a fixed seed,
 * truncated to a calibration length, with each block's domain as its data cluster when the
 * dataset has exactly one domain per expert.
 */
import { MultiDomainSampler, sourcesFromPackedDataset } from '@llama-moe/data-sampler';
import type { CalibrationData } from '@llama-moe/expert-partition/node';

export async function calibrationFromPacked(dir: string, o: { sequences: number; maxLen: number; experts: number; seed: number }): Promise<CalibrationData & { domains: string[] }> {
  const { manifest, sources } = await sourcesFromPackedDataset(dir);
  const sampler = new MultiDomainSampler({ sources, seqLen: manifest.seq_len, seed: o.seed, weights: 'uniform', normalizeWeights: true });
  const names = sources.map((s) => s.name);
  const len = Math.min(manifest.seq_len, o.maxLen);
  const sequences: Int32Array[] = [];
  const doms: number[] = [];
  try {
    for (let i = 0; i < o.sequences; i++) {
      const b = await sampler.nextBatch(1);
      sequences.push(Int32Array.from(b.inputIds.subarray(0, len)));
      doms.push(names.indexOf(b.domains[0]!));
    }
  } finally {
    await Promise.resolve(sampler.close?.());
  }
  const clusters = names.length === o.experts && new Set(doms).size === o.experts ? Int32Array.from(doms) : undefined;
  return { sequences, clusters, domains: names };
}
