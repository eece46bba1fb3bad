import { EngineError } from './errors.js';
import type { LayerSpec, ModelSpec, Padding, Size2 } from './spec.js';

/** One row of a Keras-style model summary. */
export interface SummaryRow {
  name: string;
  /** Keras class name, e.g. 'Conv2D'. */
  type: string;
  /** Output shape with the batch dimension first as null, e.g. [null, 26, 26, 32]. */
  outputShape: (number | null)[];
  params: number;
}

/** A layer as the addon receives it: every size resolved, names assigned. */
export interface LoweredLayer {
  type: Exclude<LayerSpec['type'], 'input'>;
  name: string;
  activation: string;
  in: number;
  out: number;
  kernel: [number, number];
  strides: [number, number];
  /** [top, bottom, left, right] as Keras 'same' pads (the odd pixel goes bottom/right). */
  padding: [number, number, number, number];
  rate: number;
  momentum: number;
  epsilon: number;
}

export interface LoweredModel {
  inputShape: number[];
  layers: LoweredLayer[];
  /** The last layer ends in softmax: the addon trains on the pre-softmax logits. */
  logitsOutput: boolean;
}

/** Everything knowable about a spec without running it. */
export interface ModelPlan {
  rows: SummaryRow[];
  lowered: LoweredModel;
  /** Keras "Total params": trainable plus non-trainable (batch-norm moving statistics). */
  paramCount: number;
  trainableParamCount: number;
  inputShape: number[];
  numClasses: number;
}

const KERAS_CLASS: Record<LoweredLayer['type'], string> = {
  conv2d: 'Conv2D',
  maxPooling2d: 'MaxPooling2D',
  dense: 'Dense',
  dropout: 'Dropout',
  batchNormalization: 'BatchNormalization',
  flatten: 'Flatten',
  activation: 'Activation',
};

const KERAS_PREFIX: Record<LoweredLayer['type'], string> = {
  conv2d: 'conv2d',
  maxPooling2d: 'max_pooling2d',
  dense: 'dense',
  dropout: 'dropout',
  batchNormalization: 'batch_normalization',
  flatten: 'flatten',
  activation: 'activation',
};

const pair = (s: Size2): [number, number] => (typeof s === 'number' ? [s, s] : s);

function fail(path: string, message: string): never {
  throw new EngineError('ENGINE_BAD_SPEC', `${path} ${message}`);
}

// Keras output size and padding along one axis.
function window(
  inSize: number,
  k: number,
  s: number,
  padding: Padding,
  path: string,
): [number, number, number] {
  if (padding === 'same') {
    const out = Math.ceil(inSize / s);
    const total = Math.max((out - 1) * s + k - inSize, 0);
    return [out, Math.floor(total / 2), total - Math.floor(total / 2)];
  }
  const out = Math.floor((inSize - k) / s) + 1;
  if (out < 1) fail(path, `window ${k} does not fit input size ${inSize} with 'valid' padding`);
  return [out, 0, 0];
}

function base(type: LoweredLayer['type'], name: string): LoweredLayer {
  const none: [number, number] = [1, 1];
  return {
    type,
    name,
    activation: 'linear',
    in: 0,
    out: 0,
    kernel: none,
    strides: none,
    padding: [0, 0, 0, 0],
    rate: 0,
    momentum: 0.99,
    epsilon: 0.001,
  };
}

interface Step {
  layer: LoweredLayer;
  shape: number[];
  params: number;
  trainable: number;
}

function lowerLayer(
  spec: Exclude<LayerSpec, { type: 'input' }>,
  name: string,
  shape: number[],
  path: string,
): Step {
  const l = base(spec.type, name);
  const needRank = (rank: number, hint: string): void => {
    if (shape.length !== rank)
      fail(path, `(${spec.type}) needs a ${hint} input, got shape [${shape.join(', ')}]`);
  };
  switch (spec.type) {
    case 'conv2d':
    case 'maxPooling2d': {
      needRank(3, '[height, width, channels]');
      const [h, w, c] = shape as [number, number, number];
      const k = pair(spec.type === 'conv2d' ? spec.kernelSize : (spec.poolSize ?? 2));
      const s = pair(spec.strides ?? (spec.type === 'conv2d' ? 1 : k));
      const [oh, top, bottom] = window(h, k[0], s[0], spec.padding ?? 'valid', path);
      const [ow, left, right] = window(w, k[1], s[1], spec.padding ?? 'valid', path);
      Object.assign(l, { kernel: k, strides: s, padding: [top, bottom, left, right], in: c, out: c });
      if (spec.type === 'maxPooling2d') return { layer: l, shape: [oh, ow, c], params: 0, trainable: 0 };
      const params = k[0] * k[1] * c * spec.filters + spec.filters;
      Object.assign(l, { out: spec.filters, activation: spec.activation ?? 'linear' });
      return { layer: l, shape: [oh, ow, spec.filters], params, trainable: params };
    }
    case 'dense': {
      needRank(1, 'flat [features] (add a flatten layer)');
      const inF = shape[0] as number;
      const params = inF * spec.units + spec.units;
      Object.assign(l, { in: inF, out: spec.units, activation: spec.activation ?? 'linear' });
      return { layer: l, shape: [spec.units], params, trainable: params };
    }
    case 'batchNormalization': {
      const c = shape[shape.length - 1] as number;
      Object.assign(l, { in: c, out: c, momentum: spec.momentum ?? 0.99, epsilon: spec.epsilon ?? 0.001 });
      return { layer: l, shape, params: 4 * c, trainable: 2 * c };
    }
    case 'flatten':
      return { layer: l, shape: [shape.reduce((a, b) => a * b, 1)], params: 0, trainable: 0 };
    case 'dropout':
      l.rate = spec.rate;
      return { layer: l, shape, params: 0, trainable: 0 };
    case 'activation':
      l.activation = spec.activation;
      return { layer: l, shape, params: 0, trainable: 0 };
  }
}

/** Infers shapes, parameter counts and Keras layer names for a validated spec. */
export function planModel(spec: ModelSpec): ModelPlan {
  const [input, ...rest] = spec.layers;
  if (input?.type !== 'input') return fail('layers[0].type', "must be 'input'");
  const taken = new Set(spec.layers.flatMap((l) => (l.name === undefined ? [] : [l.name])));
  if (taken.size !== spec.layers.filter((l) => l.name !== undefined).length)
    fail('layers', 'have duplicate names');
  const counters = new Map<string, number>();
  const autoName = (type: LoweredLayer['type']): string => {
    const prefix = KERAS_PREFIX[type];
    for (;;) {
      const n = counters.get(prefix) ?? 0;
      counters.set(prefix, n + 1);
      const name = n === 0 ? prefix : `${prefix}_${n}`;
      if (!taken.has(name)) return name;
    }
  };
  let shape = [...input.shape];
  const rows: SummaryRow[] = [];
  const layers: LoweredLayer[] = [];
  let paramCount = 0;
  let trainableParamCount = 0;
  rest.forEach((raw, i) => {
    if (raw.type === 'input') fail(`layers[${i + 1}].type`, "'input' is only allowed first");
    const step = lowerLayer(raw, raw.name ?? autoName(raw.type), shape, `layers[${i + 1}]`);
    shape = step.shape;
    layers.push(step.layer);
    rows.push({
      name: step.layer.name,
      type: KERAS_CLASS[raw.type],
      outputShape: [null, ...shape],
      params: step.params,
    });
    paramCount += step.params;
    trainableParamCount += step.trainable;
  });
  if (shape.length !== 1) {
    fail(
      `layers[${spec.layers.length - 1}]`,
      `must output a vector of class scores, got [${shape.join(', ')}]`,
    );
  }
  const last = layers[layers.length - 1];
  const logitsOutput = last !== undefined && last.type !== 'dropout' && last.activation === 'softmax';
  return {
    rows,
    lowered: { inputShape: [...input.shape], layers, logitsOutput },
    paramCount,
    trainableParamCount,
    inputShape: [...input.shape],
    numClasses: shape[0] as number,
  };
}
