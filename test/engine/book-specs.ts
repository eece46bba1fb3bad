import { bookModelSpec } from '../../src/models/index.js';
import type { ModelSpec } from '../../src/engine/index.js';

/** The book's networks for engine tests (the models module owns their definitions). */
export function bookCnnSpec(variant: 'base' | 'dropout' | 'batch_norm' = 'base'): ModelSpec {
  return bookModelSpec(variant === 'base' ? 'cnn' : variant);
}
