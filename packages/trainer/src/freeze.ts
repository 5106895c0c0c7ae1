/**
 * Freezing stages: which parameters train at a given step. Patterns match Hugging Face names:
 *   all          every parameter
 *   gates        `.mlp.gate.` (LLaMA-MoE gate network and noise) and `.block_sparse_moe.gate.` (Mixtral router)
 *   experts      `.mlp.calculator.experts.`, `.mlp.shared_experts.`, `.block_sparse_moe.experts.`
 *   mlp          every FFN parameter (`.mlp.`, `.block_sparse_moe.`), dense or MoE
 *   attention    `.self_attn.`
 *   embeddings   `model.embed_tokens.` and `lm_head.`
 *   norms        `*layernorm*` and `model.norm.weight`
 *   '/re/flags'  a regular expression over the name
 */
import type { StageConfig } from './config.js';
import { TrainConfigError } from './errors.js';

const GROUP_TESTS: Record<string, (n: string) => boolean> = {
  all: () => true,
  gates: (n) => n.includes('.mlp.gate.') || n.includes('.block_sparse_moe.gate.'),
  experts: (n) => n.includes('.mlp.calculator.experts.') || n.includes('.mlp.shared_experts.') || n.includes('.block_sparse_moe.experts.'),
  mlp: (n) => n.includes('.mlp.') || n.includes('.block_sparse_moe.'),
  attention: (n) => n.includes('.self_attn.'),
  embeddings: (n) => n.startsWith('model.embed_tokens.') || n.startsWith('lm_head.'),
  norms: (n) => /layernorm/.test(n) || n === 'model.norm.weight',
};

/** A predicate over parameter names for one pattern or a union of patterns. */
export function trainableFilter(trainable: string | readonly string[]): (name: string) => boolean {
  const pats = typeof trainable === 'string' ? [trainable] : trainable;
  const tests = pats.map((p) => {
    if (p.startsWith('/')) {
      const m = /^\/(.*)\/([a-z]*)$/s.exec(p);
      if (!m) throw new TrainConfigError('stages', `regex ${JSON.stringify(p)} must be written '/pattern/flags'`);
      const re = new RegExp(m[1]!, m[2]!.replace('g', ''));
      return (n: string) => re.test(n);
    }
    const t = GROUP_TESTS[p];
    if (!t) throw new TrainConfigError('stages', `unknown group '${p}' (use ${Object.keys(GROUP_TESTS).join(', ')} or '/regex/')`);
    return t;
  });
  return (n) => tests.some((t) => t(n));
}

/** Index of the stage that covers the update with 0-based index `i` (the last stage runs to the end). */
export function stageIndexAt(stages: readonly StageConfig[] | null, i: number): number {
  if (!stages) return -1;
  let end = 0;
  for (let s = 0; s < stages.length; s++) {
    const st = stages[s]!;
    if (st.steps === undefined) return s;
    end += st.steps;
    if (i < end) return s;
  }
  return stages.length - 1;
}

/**
 * Check every stage against the model's parameter names: a stage that would train nothing is a
 * typo or a pattern for another architecture (e.g. 'gates' on a dense model).
 */
export function checkStagesAgainst(stages: readonly StageConfig[] | null, names: readonly string[]): void {
  if (!stages) return;
  stages.forEach((s, i) => {
    const f = trainableFilter(s.trainable);
    if (!names.some(f)) {
      throw new TrainConfigError(`stages[${i}].trainable`, `${JSON.stringify(s.trainable)} matches none of the model's ${names.length} parameters (e.g. '${names[0]}'); check the pattern or the model type`);
    }
  });
}
