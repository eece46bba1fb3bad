import { EngineError } from './errors.js';

/** Activations in the Keras vocabulary. */
export type Activation = 'relu' | 'sigmoid' | 'tanh' | 'softmax' | 'linear';
export type Padding = 'valid' | 'same';
/** A size given as one number (square) or [height, width]. */
export type Size2 = number | [number, number];

export interface InputLayer {
  type: 'input';
  /** Per-example shape, NHWC like Keras: [height, width, channels], or [features]. */
  shape: number[];
  name?: string;
}
export interface Conv2dLayer {
  type: 'conv2d';
  filters: number;
  kernelSize: Size2;
  /** Default 1. */
  strides?: Size2;
  /** Default 'valid'. */
  padding?: Padding;
  /** Default 'linear'. */
  activation?: Activation;
  name?: string;
}
export interface MaxPooling2dLayer {
  type: 'maxPooling2d';
  /** Default 2. */
  poolSize?: Size2;
  /** Default: poolSize. */
  strides?: Size2;
  /** Default 'valid'. */
  padding?: Padding;
  name?: string;
}
export interface DenseLayer {
  type: 'dense';
  units: number;
  /** Default 'linear'. */
  activation?: Activation;
  name?: string;
}
export interface DropoutLayer {
  type: 'dropout';
  /** Fraction of inputs dropped while training, in [0, 1). */
  rate: number;
  name?: string;
}
export interface BatchNormalizationLayer {
  type: 'batchNormalization';
  /** Keras momentum of the moving statistics (torch momentum = 1 - this). Default 0.99. */
  momentum?: number;
  /** Default 0.001. */
  epsilon?: number;
  name?: string;
}
export interface FlattenLayer {
  type: 'flatten';
  name?: string;
}
export interface ActivationLayer {
  type: 'activation';
  activation: Activation;
  name?: string;
}

export type LayerSpec =
  | InputLayer
  | Conv2dLayer
  | MaxPooling2dLayer
  | DenseLayer
  | DropoutLayer
  | BatchNormalizationLayer
  | FlattenLayer
  | ActivationLayer;

/** A sequential model: an `input` layer followed by the layers applied in order. */
export interface ModelSpec {
  layers: LayerSpec[];
}

const ACTIVATIONS: readonly string[] = ['relu', 'sigmoid', 'tanh', 'softmax', 'linear'];
const LAYER_TYPES: readonly string[] = [
  'input',
  'conv2d',
  'maxPooling2d',
  'dense',
  'dropout',
  'batchNormalization',
  'flatten',
  'activation',
];

type Fields = Record<string, unknown>;

function bad(path: string, what: string, got: unknown): never {
  throw new EngineError('ENGINE_BAD_SPEC', `${path} ${what} (got ${JSON.stringify(got) ?? String(got)})`);
}

function positiveInt(o: Fields, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    bad(`${path}.${key}`, 'must be a positive integer', v);
  return v;
}

function size2(o: Fields, key: string, path: string, fallback?: Size2): Size2 {
  const v = o[key] ?? fallback;
  const ok = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (ok(v)) return v as number;
  if (Array.isArray(v) && v.length === 2 && v.every(ok)) return [v[0], v[1]] as [number, number];
  return bad(`${path}.${key}`, 'must be a positive integer or [height, width] of positive integers', v);
}

function optional<T>(o: Fields, key: string, path: string, allowed: readonly string[], fallback: T): T {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !allowed.includes(v))
    bad(`${path}.${key}`, `must be one of ${allowed.join(', ')}`, v);
  return v as T;
}

function fraction(o: Fields, key: string, path: string, fallback: number | undefined, max: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= max) {
    bad(`${path}.${key}`, `must be a number in [0, ${max})`, v);
  }
  return v;
}

function parseLayer(raw: unknown, path: string): LayerSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad(path, 'must be an object', raw);
  const o = raw as Fields;
  const type = o.type;
  if (typeof type !== 'string' || !LAYER_TYPES.includes(type)) {
    bad(`${path}.type`, `must be one of ${LAYER_TYPES.join(', ')}`, type);
  }
  if (o.name !== undefined && (typeof o.name !== 'string' || !/^[A-Za-z][\w-]*$/.test(o.name))) {
    bad(`${path}.name`, 'must be a name of letters, digits, _ or - starting with a letter', o.name);
  }
  const name = o.name === undefined ? {} : { name: o.name as string };
  const act = (fallback: Activation): Activation => optional(o, 'activation', path, ACTIVATIONS, fallback);
  switch (type) {
    case 'input': {
      const shape = o.shape;
      const ok = Array.isArray(shape) && (shape.length === 1 || shape.length === 3);
      if (!ok || !shape.every((n) => typeof n === 'number' && Number.isInteger(n) && n > 0)) {
        bad(`${path}.shape`, 'must be [height, width, channels] or [features] of positive integers', shape);
      }
      return { type, shape: [...(shape as number[])], ...name };
    }
    case 'conv2d':
      return {
        type,
        filters: positiveInt(o, 'filters', path),
        kernelSize: size2(o, 'kernelSize', path),
        strides: size2(o, 'strides', path, 1),
        padding: optional(o, 'padding', path, ['valid', 'same'], 'valid'),
        activation: act('linear'),
        ...name,
      };
    case 'maxPooling2d': {
      const poolSize = size2(o, 'poolSize', path, 2);
      return {
        type,
        poolSize,
        strides: size2(o, 'strides', path, poolSize),
        padding: optional(o, 'padding', path, ['valid', 'same'], 'valid'),
        ...name,
      };
    }
    case 'dense':
      return { type, units: positiveInt(o, 'units', path), activation: act('linear'), ...name };
    case 'dropout':
      return { type, rate: fraction(o, 'rate', path, undefined, 1), ...name };
    case 'batchNormalization':
      return {
        type,
        momentum: fraction(o, 'momentum', path, 0.99, 1),
        epsilon: positiveNumber(o, 'epsilon', path, 0.001),
        ...name,
      };
    case 'flatten':
      return { type, ...name };
    default:
      if (o.activation === undefined)
        bad(`${path}.activation`, `must be one of ${ACTIVATIONS.join(', ')}`, undefined);
      return { type: 'activation', activation: act('linear'), ...name };
  }
}

function positiveNumber(o: Fields, key: string, path: string, fallback: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    bad(`${path}.${key}`, 'must be a positive number', v);
  return v;
}

/** Validates an untrusted model spec, filling in Keras defaults; errors name the field (`layers[2].filters`). */
export function parseModelSpec(raw: unknown): ModelSpec {
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as Fields).layers)) {
    bad('spec.layers', 'must be an array of layers', raw);
  }
  const layers = ((raw as Fields).layers as unknown[]).map((l, i) => parseLayer(l, `layers[${i}]`));
  if (layers[0]?.type !== 'input') bad('layers[0].type', "must be 'input'", layers[0]?.type);
  if (layers.length < 2) bad('layers', 'must hold at least one layer after the input', layers.length);
  layers.forEach((l, i) => {
    if (i > 0 && l.type === 'input') bad(`layers[${i}].type`, "'input' is only allowed first", l.type);
  });
  return { layers };
}
