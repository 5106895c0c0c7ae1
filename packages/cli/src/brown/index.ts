export { BROWN_RECIPE, type BrownRecipe } from './recipe.js';
export { brownData, sizeWeights, packedSplit, unigramPerplexity, type BrownData } from './data.js';
export { pretrainBrownModel, testPrompt, type BrownPretrainOptions, type BrownPretrainResult, type Continuation } from './pretrain.js';
