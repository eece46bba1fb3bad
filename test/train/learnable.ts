import { Dataset, type ScaledExample } from '../../src/data/index.js';

/** A small dataset a CNN learns in a few steps: class c lights rows 2c..2c+2 (plus noise). */
export function learnable(n: number, seed = 1, poison?: number): Dataset<ScaledExample> {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 8) / 2 ** 24;
  };
  const items: ScaledExample[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 10;
    const image = new Float32Array(784);
    for (let p = 0; p < 784; p++) image[p] = rand() * 0.2;
    for (let r = 2 * label + 4; r < 2 * label + 7; r++) for (let c = 4; c < 24; c++) image[r * 28 + c] = 1;
    if (poison !== undefined && i >= poison) image.fill(Number.NaN);
    items.push({ index: i, label, image });
  }
  return Dataset.fromArray(items, `learnable:${n}:${seed}:${poison ?? ''}`);
}
