// @llama-moe/trainer: continual pre-training of LLaMA / LLaMA-MoE models.
export { TrainerError, TrainConfigError, NonFiniteError, CheckpointStateError, TrainingInterruptedError, type TrainerErrorCode } from './errors.js';
export {
  DEFAULT_TRAIN_CONFIG, NON_TRAJECTORY_KEYS, resolveConfig, configHash, canonicalJson, trajectoryDiff, checkTrainablePattern,
  type TrainConfig, type StageConfig, type DynamicConfig, type LrScheduler, type NanPolicy, type DynamicRuleName,
} from './config.js';
export { AdamW, decays, type AdamWConfig, type ParamState } from './optim/adamw.js';
export { lrAt, type ScheduleConfig } from './optim/schedule.js';
export { clipCoefficient, clipGradNorm, globalGradNorm } from './optim/clip.js';
export { trainableFilter, stageIndexAt, checkStagesAgainst } from './freeze.js';
export { forwardBackward, zeroGrad, type MicroBatch, type ForwardBackwardResult } from './step.js';
export {
  defaultSaveModel, defaultLoadModel, llamaOf, gateRngs, seedGateRngs, deriveSeed,
  type TrainableModel, type ScoringModel, type ModelForwardOutput, type SaveModelFn, type LoadModelFn,
} from './model.js';
export {
  listCheckpoints, latestCheckpoint, pruneCheckpoints, removePartialCheckpoints, writeCheckpoint, writeOptimizerState, readOptimizerState, readTrainerStateFile,
  TRAINER_STATE_NAME, OPTIMIZER_NAME, TRAINER_STATE_FORMAT, type CheckpointInfo, type CheckpointPhase, type WriteCheckpointOptions,
} from './checkpoint.js';
export { appendMetric, metricLine, type TrainRecord, type EvalRecord, type MetricRecord, type McSummary, type ProgressStream } from './metrics.js';
export { evaluatePerplexity, type PerplexityReport, type PerplexityResult } from './eval/perplexity.js';
export {
  evaluateMultipleChoice, encodePair, loglikelihood, parseMcJsonl, loadMcTask, meanStderr,
  type McDoc, type McOptions, type McResult, type McDocResult, type McTokenizer,
} from './eval/multiple-choice.js';
export { renderReport, type ReportInput, type RoutingTotals } from './report/html.js';
export { lineChart, heatmap, colorRamp, niceTicks } from './report/svg.js';
export { modelFlopsPerToken, trainingFlopsPerToken, type FlopsBreakdown, type FlopsModel } from './flops.js';
export {
  Trainer, train, METRICS_NAME, REPORT_NAME,
  type TrainInputs, type ResumeInputs, type TrainResult, type TrainerHooks, type TrainerState, type McTask,
} from './trainer.js';
export { trainingProgress } from './progress-display.js';
export type { TrainerEvent, TrainerListener } from './events.js';
