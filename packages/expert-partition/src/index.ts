/**
 * @llama-moe/expert-partition: build a Mixture-of-Experts from a dense LLaMA. The root is
 * browser-safe: model construction and merging, partitions, calibration, router
 * fitting, the LLaMA-MoE and Mixtral config formats. Folders and files on disk (save and load,
 * the streaming split, GGUF and Qwen2-MoE export) are `@llama-moe/expert-partition/node`;
 * benchmarks are `@llama-moe/expert-partition/bench`.
 */
export { buildMoeFromDense, dropUpcycleExpert, type BuildMoeOptions } from './moe/build.js';
export { expertsFromDense, takeRows, takeCols, takeColsMany, takeColsManyJs } from './moe/gather.js';
export { loadMoeModelFrom, moeTensors, type SaveMoeOptions } from './moe/moe-model.js';
export { initGate, isDataGateInit, GATE_INITS, type GateInit, type GateInitOptions } from './moe/gate-init.js';
export { mergeExperts } from './moe/merge.js';
export { specFromConfig, moeConfigOf, moeConfig, moeConfigJson, denseBaseConfig, moeFfnOptions, type MoeFormat } from './moe/moe-config.js';
export { partitionFileOf, setPartitionFile, PARTITION_FILE, type PartitionFile } from './moe/partition-file.js';
export { setMoeLossSettings, type MoeLossSettings } from './moe/loss-settings.js';
export { defaultMoeSpec, scoreScaleAt, type MoeSpec, type GateType } from './formats/moe-spec.js';
export { llamaMoeConfigJson, llamaMoeNames } from './formats/llama-moe.js';
export { mixtralConfigJson, mixtralIncompatibility, mixtralNames, FormatError } from './formats/mixtral.js';
export * from './partition/index.js';
export { calibrate, CentroidAccumulator, type CalibrationSink, type CalibrateOptions } from './convert/calibrate.js';
export {
  RouterCalibration, ridgeRows, representativeRows, centroidRows, kmeansRows, mostActiveNeurons, scaleRowsTo, solveSpd, fitTerms, fitRouterTemperature, fitExpertScales, reconstructionError,
  DATA_GATE_INITS, type DataGateInit, type FitTerms, type LayerFfn,
} from './convert/router-fit.js';
export { collectActivationStats, collectRouterCalibration, dataRouters, layerFfn, type DataRouters, type DataRouterOptions, type LayerRouterFit } from './convert/data-routers.js';
