/**
 * Child process for the SIGKILL resume test: `node child.mjs <outDir> <config JSON>` trains the
 * fixture MoE model (resuming from the latest complete checkpoint in outDir if there is one).
 * The test bundles this file with esbuild (node cannot run TypeScript) and kills it at random.
 */
import { train } from '../../src/trainer.js';
import { corpusSources, loadTinyMoe, tinyMoeModel, tokenizer } from './fixtures.js';

export async function runCrashChild(argv: readonly string[]): Promise<void> {
  const [outDir, cfg] = argv;
  if (!outDir || !cfg) throw new Error('usage: crash-child <outDir> <config JSON>');
  await train(JSON.parse(cfg) as Record<string, unknown>, {
    model: tinyMoeModel(3), sources: corpusSources({ docs: 30 }), tokenizer, outDir, loadModel: (d) => loadTinyMoe(d), progress: null,
  });
}
