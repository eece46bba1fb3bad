// Public face of the compute engine: Keras-style sequential models trained in libtorch via a native addon.
import { planModel, type SummaryRow } from './shapes.js';
import { parseModelSpec } from './spec.js';

export { EngineError, type EngineErrorCode } from './errors.js';
export type {
  Activation,
  ActivationLayer,
  BatchNormalizationLayer,
  Conv2dLayer,
  DenseLayer,
  DropoutLayer,
  FlattenLayer,
  InputLayer,
  LayerSpec,
  MaxPooling2dLayer,
  ModelSpec,
  Padding,
  Size2,
} from './spec.js';
export { parseModelSpec } from './spec.js';
export type { SummaryRow } from './shapes.js';
export type { AdamConfig, OptimizerConfig, SgdConfig } from './optimizer.js';
export type { Labels } from './native.js';
export {
  createModel,
  Model,
  type CreateModelOptions,
  type EvalResult,
  type ModelState,
  type OptimizerState,
  type StepResult,
} from './model.js';
export {
  flattenTensors,
  scatterTensors,
  tensorSize,
  type NamedTensor,
  type ParameterSlot,
  type TensorSpec,
} from './tensors.js';
export { getNumThreads, setNumThreads, threadBudget } from './threads.js';
export { decodeJpegGray, decodeJpegGrayAsync, type GrayImage } from './image.js';
export { torchVersion } from './native.js';

/** What a spec builds, without the native engine: summary rows and parameter counts. */
export interface SpecInfo {
  rows: SummaryRow[];
  paramCount: number;
  trainableParamCount: number;
  inputShape: number[];
  numClasses: number;
}

/** Validates a spec and infers its shapes and parameter counts in pure TypeScript. */
export function inspectModelSpec(spec: unknown): SpecInfo {
  const { rows, paramCount, trainableParamCount, inputShape, numClasses } = planModel(parseModelSpec(spec));
  return { rows, paramCount, trainableParamCount, inputShape, numClasses };
}
export {
  Store,
  ProcessGroup,
  DEFAULT_BUCKET_ELEMENTS,
  type StoreOptions,
  type GroupOptions,
} from './collective.js';
export {
  StoreServer,
  StoreOp,
  newJobSecret,
  encodeStoreFrame,
  decodeStoreBody,
  type StoreServerOptions,
} from './store-server.js';
