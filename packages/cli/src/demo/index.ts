/** The demo and paper-reproduction machinery (re-exported by the package index for tools/*.mjs). */
export { DEMO_RECIPE, type DemoRecipe, type CorpusRecipe, type TokenizerRecipe, type PretrainRecipe, type TrainBudget } from './recipe.js';
export { demoCorpus, validationBlocks, cachedSamplerTokenizer, experimentData, isBrownCorpus, type DemoCorpus, type ExperimentCorpus, type ExperimentData, type BrownCorpusSpec } from './data.js';
export { backendDescription, useFastestBackend } from './backend.js';
export {
  runExperiment, routingSpecialisation, variantName, machineInfo, DEMO_METHODS, DENSE_CONTROL_NAME,
  type DemoMethod, type DomainWeighting, type RoutingSpecialisation, type MoeVariant, type ExperimentInputs, type ExperimentSummary, type RunSummary, type MachineInfo,
} from './experiment.js';
export { renderSummaryText, renderSummaryMarkdown, renderIndexHtml, summaryRows, type SummaryRow } from './summary.js';
export { pretrainDemoModel, type PretrainOptions, type PretrainResult } from './pretrain.js';
export { buildFolderAtomically, stagingPathFor } from './staging.js';
export { demoModelDir, DEMO_MODEL_NAME, brownModelDir, BROWN_MODEL_NAME } from './assets.js';
export * from '../brown/index.js';
