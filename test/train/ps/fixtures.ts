import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIdx } from '../../../src/data/index.js';

/**
 * Writes a small Fashion-MNIST-shaped dataset a CNN learns in a few dozen steps: class c lights rows
 * 2c+4..2c+6 over noise. `--source DIR` reads it like the real files.
 */
export function writeLearnableDataset(dir: string, train = 1280, test = 320, seed = 1): void {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 8) / 2 ** 24;
  };
  const split = (base: string, n: number) => {
    const pixels = new Uint8Array(n * 784);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const label = Math.floor(rand() * 10);
      labels[i] = label;
      for (let p = 0; p < 784; p++) pixels[i * 784 + p] = Math.floor(rand() * 60);
      for (let r = 2 * label + 4; r < 2 * label + 7; r++)
        for (let c = 4; c < 24; c++) pixels[i * 784 + r * 28 + c] = 255;
    }
    writeFileSync(join(dir, `${base}-images-idx3-ubyte`), encodeIdx(0x08, [n, 28, 28], pixels));
    writeFileSync(join(dir, `${base}-labels-idx1-ubyte`), encodeIdx(0x08, [n], labels));
  };
  split('train', train);
  split('t10k', test);
}
