import { IMAGE_SIZE, mixSeed, mulberry32, type ScaledExample } from '../../data/index.js';

/** Position in the endless sequence of shuffled passes: `offset` examples of pass `pass` are consumed. */
export interface Cursor {
  pass: number;
  offset: number;
}

/**
 * The training set held once in memory, shuffled per pass by (seed, pass) with a full Fisher–Yates
 * permutation, and cut into global batches of `perWorker × worldSize`. Worker r takes elements r, r+W, r+2W…
 * of each global batch (tf.data's DATA sharding): the workers' shards are disjoint and together cover the
 * batch, whatever the world size — which may change between steps in an elastic job.
 */
export class ShardedFeed {
  private readonly images: Float32Array;
  private readonly labels: Int32Array;
  private perm: Uint32Array = new Uint32Array(0);
  private permPass = -1;

  constructor(
    examples: readonly ScaledExample[],
    private readonly seed: number,
  ) {
    this.images = new Float32Array(examples.length * IMAGE_SIZE);
    this.labels = new Int32Array(examples.length);
    examples.forEach((e, i) => {
      this.images.set(e.image, i * IMAGE_SIZE);
      this.labels[i] = e.label;
    });
  }

  get size(): number {
    return this.labels.length;
  }

  /** Global batches that fit in one pass for this world size (the tail of a pass is dropped). */
  batchesPerPass(perWorker: number, worldSize: number): number {
    return Math.floor(this.size / (perWorker * worldSize));
  }

  private permutation(pass: number): Uint32Array {
    if (pass === this.permPass) return this.perm;
    const p = Uint32Array.from({ length: this.size }, (_, i) => i);
    const rand = mulberry32(mixSeed(this.seed, pass));
    for (let i = p.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = p[i] as number;
      p[i] = p[j] as number;
      p[j] = t;
    }
    this.perm = p;
    this.permPass = pass;
    return p;
  }

  /**
   * This worker's share of the global batch at `cursor`, and the cursor after the global batch.
   * When the pass has fewer than a global batch left, the batch comes from the start of the next pass.
   */
  take(
    cursor: Cursor,
    perWorker: number,
    worldSize: number,
    rank: number,
  ): { images: Float32Array; labels: Int32Array; next: Cursor } {
    const global = perWorker * worldSize;
    let { pass, offset } = cursor;
    if (offset + global > this.size) {
      pass++;
      offset = 0;
    }
    const perm = this.permutation(pass);
    const images = new Float32Array(perWorker * IMAGE_SIZE);
    const labels = new Int32Array(perWorker);
    for (let k = 0; k < perWorker; k++) {
      const idx = perm[offset + rank + k * worldSize] as number;
      images.set(this.images.subarray(idx * IMAGE_SIZE, (idx + 1) * IMAGE_SIZE), k * IMAGE_SIZE);
      labels[k] = this.labels[idx] as number;
    }
    return { images, labels, next: { pass, offset: offset + global } };
  }
}
