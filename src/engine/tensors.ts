// Tensor facts the engine owns: what a model's tensors are (name, shape, trainable), the order of the flat
// parameter vector, and packing named tensors into one buffer for a single collective call and back.
import { EngineError } from './errors.js';

/** A named tensor; `data` is row-major in `shape`. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** One tensor of a model's state without its values; `trainable` ones make up getParameters(). */
export interface TensorSpec {
  name: string;
  shape: number[];
  /** False for buffers such as batch-norm moving statistics: no gradient, not in the parameter vector. */
  trainable: boolean;
}

/** A trainable tensor's place in the flat parameter vector: `size` elements, in parameter order. */
export interface ParameterSlot {
  name: string;
  size: number;
}

/** Elements in a tensor of `shape` (1 for a scalar). */
export function tensorSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The trainable tensors of a state spec in the order getParameters()/getGradients() lay them out. */
export function parameterLayout(spec: readonly TensorSpec[]): ParameterSlot[] {
  return spec.filter((t) => t.trainable).map((t) => ({ name: t.name, size: tensorSize(t.shape) }));
}

/** The tensors' values end to end in one buffer, in the given order (the inverse of scatterTensors). */
export function flattenTensors(tensors: readonly NamedTensor[]): Float32Array {
  const flat = new Float32Array(tensors.reduce((n, t) => n + t.data.length, 0));
  let off = 0;
  for (const t of tensors) {
    flat.set(t.data, off);
    off += t.data.length;
  }
  return flat;
}

/**
 * `tensors` with their values read back from `flat`, laid out as flattenTensors wrote them (each gets a
 * copy, so `flat` may be reused); `flat` must hold exactly their combined length.
 */
export function scatterTensors(flat: Float32Array, tensors: readonly NamedTensor[]): NamedTensor[] {
  const total = tensors.reduce((n, t) => n + t.data.length, 0);
  if (flat.length !== total)
    throw new EngineError('ENGINE_BAD_INPUT', `flat buffer has ${flat.length} values, the tensors ${total}`);
  let off = 0;
  return tensors.map((t) => {
    const data = flat.slice(off, off + t.data.length);
    off += t.data.length;
    return { ...t, data };
  });
}
