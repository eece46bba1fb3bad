import type { LayerSpec, ModelSpec } from '../engine/index.js';
import { ModelError } from './errors.js';

/** The book's three models (Listings 9.4 and 9.5). */
export const MODEL_NAMES = ['cnn', 'dropout', 'batch_norm'] as const;
export type BookModelName = (typeof MODEL_NAMES)[number];

/** The input layer's name in the book, which the serving signature keys on (`image_bytes`). */
export const INPUT_NAME = 'image_bytes';

/**
 * The book's model specs, layer for layer. `cnn`: three 3×3 convolutions (32, 64, 64) with two 2×2 poolings,
 * dense 64, dense 10 softmax — 93,322 parameters. `dropout`: Dropout(0.5) after the second pooling.
 * `batch_norm`: each of the first two convolutions (relu) followed by BatchNormalization and a sigmoid.
 */
export function bookModelSpec(name: string): ModelSpec {
  if (!isBookModel(name)) {
    throw new ModelError('MODEL_UNKNOWN', `unknown model "${name}"; choose one of ${MODEL_NAMES.join(', ')}`);
  }
  const block = (filters: number): LayerSpec[] => [
    { type: 'conv2d', filters, kernelSize: 3, activation: 'relu' },
    ...(name === 'batch_norm'
      ? ([{ type: 'batchNormalization' }, { type: 'activation', activation: 'sigmoid' }] as LayerSpec[])
      : []),
    { type: 'maxPooling2d', poolSize: 2 },
  ];
  return {
    layers: [
      { type: 'input', shape: [28, 28, 1], name: INPUT_NAME },
      ...block(32),
      ...block(64),
      ...(name === 'dropout' ? ([{ type: 'dropout', rate: 0.5 }] as LayerSpec[]) : []),
      { type: 'conv2d', filters: 64, kernelSize: 3, activation: 'relu' },
      { type: 'flatten' },
      { type: 'dense', units: 64, activation: 'relu' },
      { type: 'dense', units: 10, activation: 'softmax' },
    ],
  };
}

/** True for cnn, dropout and batch_norm. */
export function isBookModel(name: string): name is BookModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}
