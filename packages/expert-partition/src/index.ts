export {
  buildMoeFromDense, expertsFromDense, mergeExpertsToDense, loadMoeModelFrom, initGate, loadMoeModel, loadAnyModel, mergeExperts, moeTensors, saveMoeModel, specFromConfig, moeConfigOf, moeConfig, moeConfigJson, denseBaseConfig, partitionFileOf, setPartitionFile, setMoeLossSettings, dropUpcycleExpert, isDataGateInit, GATE_INITS,
  takeRows, takeCols, takeColsMany, takeColsManyJs, moeFfnOptions, PARTITION_FILE,
  type MoeFormat, type MoeLossSettings, type GateInit, type BuildMoeOptions, type SaveMoeOptions, type PartitionFile, type GateInitOptions,
} from './moe/moe-model.js';
export { defaultMoeSpec, scoreScaleAt, type MoeSpec, type GateType } from './formats/moe-spec.js';
export { llamaMoeConfigJson, llamaMoeNames } from './formats/llama-moe.js';
export { mixtralConfigJson, mixtralIncompatibility, mixtralNames, FormatError } from './formats/mixtral.js';
export { benchMoeFfn, type MoeFfnBench } from './bench.js';
export * from './partition/index.js';
export { splitStreaming, validateSplitOptions, weightOnlyPartition, sharingInterSharedSize, SplitError, type SplitOptions, type SplitResult } from './convert/split.js';
export { calibrate, CentroidAccumulator, type CalibrationSink, type CalibrateOptions } from './convert/calibrate.js';
export { splitModel, clusterSequences, type SplitModelOptions, type CalibrationData } from './convert/split-model.js';
export { CARVE_DEFAULT_GATE_INIT, DEFAULT_DROP_RATIO } from './convert/split.js';
export {
  RouterCalibration, ridgeRows, representativeRows, centroidRows, kmeansRows, mostActiveNeurons, scaleRowsTo, solveSpd, fitTerms, fitRouterTemperature, fitExpertScales, reconstructionError,
  DATA_GATE_INITS, type DataGateInit, type FitTerms, type LayerFfn,
} from './convert/router-fit.js';
export { collectActivationStats, collectRouterCalibration, dataRouters, layerFfn, type DataRouters, type DataRouterOptions, type LayerRouterFit } from './convert/data-routers.js';
export { qwen2MoeIncompatibility, qwen2MoeConfigJson, qwen2MoeTensors, qwen2MoeSizes, saveQwen2Moe } from './formats/qwen2-moe.js';
export { ggufMoeIncompatibility, ggufMoeLayerIncompatibility, ggufExpertWidth, moeFfnGguf, moeGgufParts, writeMoeGguf, type MoeGgufOptions } from './formats/gguf.js';
