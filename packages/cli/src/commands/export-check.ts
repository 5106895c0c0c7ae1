/**
 * `llama-moe export-check --model DIR [--json]`: for every export target (LLaMA-MoE HF, Mixtral HF,
 * qwen2_moe HF, GGUF f32 / f16 / bf16 / q8_0), whether the export computes exactly what the project
 * computes, approximately (with the measured logit difference), or not at all (with the reason).
 * Nothing is written.
 */
import { JSON_OPTION, type CommandArgs, type CommandSpec } from '../command.js';
import { loadModelFolder } from '../model-io.js';
import { checkExportTargets, renderTargets, tokenizerOf } from './export-format.js';

export const exportCheckCommand: CommandSpec = {
  name: 'export-check',
  summary: 'Say which export targets reproduce the model exactly, approximately, or not at all',
  description:
    'Loads the model folder and checks every export target: llama-moe, mixtral and qwen2_moe Hugging Face folders and GGUF ' +
    '(llama.cpp) in f32, f16, bf16 and q8_0. Each is exact, approximate (the weights are rounded; the logit difference is ' +
    'measured on a probe sequence) or impossible (with a one-line reason). `llama-moe export` refuses impossible targets.',
  usage: ['export-check --model DIR [--json]'],
  options: [{ name: 'model', type: 'string', required: true, valueName: 'DIR', description: 'Model folder (or a dense llama GGUF file) to check.' }, JSON_OPTION],
  examples: ['llama-moe export-check --model models/tiny-moe', 'llama-moe export-check --model models/tiny-moe --json | jq .targets'],
  async run(args: CommandArgs): Promise<number> {
    const dir = args.options.model as string;
    const { model } = await loadModelFolder(dir);
    const tok = tokenizerOf(dir);
    const targets = checkExportTargets(model, tok);
    args.io.stdout(args.options.json ? JSON.stringify({ model: dir, targets }, null, 2) + '\n' : renderTargets(dir, targets));
    return 0;
  },
};
