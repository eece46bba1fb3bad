import { collate, type Dataset, type ExampleBatch, type ScaledExample } from '../data/index.js';
import { TrainError } from './errors.js';

/**
 * Endless, reproducible stream of training batches: pass p of the data is shuffled with (seed, p), cut into
 * full batches, and passes follow each other (the book's `.batch().repeat()`). Global step g always maps to
 * the same batch, so a resumed job continues with exactly the data it would have seen.
 */
export class BatchFeed {
  private pass = 0;
  private iter: AsyncIterator<readonly (readonly ScaledExample[])[]> | undefined;
  private pending: (readonly ScaledExample[])[] = [];
  private readonly batched: Dataset<ScaledExample[]>;

  private constructor(
    data: Dataset<ScaledExample>,
    readonly batchSize: number,
    readonly batchesPerPass: number,
    seed: number,
    shuffleBuffer: number,
  ) {
    this.batched = data.shuffle(shuffleBuffer, seed).batch(batchSize, { dropRemainder: true });
  }

  /** Counts the data once (filling its cache), then positions the feed at global step `startStep`. */
  static async create(
    data: Dataset<ScaledExample>,
    opts: { batchSize: number; seed: number; shuffleBuffer?: number; startStep?: number },
  ): Promise<BatchFeed> {
    let count = 0;
    for await (const c of data.chunks()) count += c.length;
    const perPass = Math.floor(count / opts.batchSize);
    if (perPass === 0) {
      throw new TrainError(
        'TRAIN_NO_DATA',
        `the training data has ${count} examples, fewer than one batch of ${opts.batchSize}; lower --batch-size`,
      );
    }
    const feed = new BatchFeed(data, opts.batchSize, perPass, opts.seed, opts.shuffleBuffer ?? 10_000);
    await feed.seek(opts.startStep ?? 0);
    return feed;
  }

  private async seek(step: number): Promise<void> {
    this.pass = Math.floor(step / this.batchesPerPass);
    this.iter = this.batched.chunks(this.pass)[Symbol.asyncIterator]();
    this.pending = [];
    for (let skip = step % this.batchesPerPass; skip > 0;) {
      const b = await this.raw();
      if (!b) break;
      skip--;
    }
  }

  private async raw(): Promise<readonly ScaledExample[] | undefined> {
    while (!this.pending.length) {
      const r = await this.iter?.next();
      if (!r || r.done) return undefined;
      this.pending = [...r.value];
    }
    return this.pending.shift();
  }

  /** The next batch, starting a new pass when one ends. */
  async next(): Promise<ExampleBatch> {
    let b = await this.raw();
    if (!b) {
      this.pass++;
      this.iter = this.batched.chunks(this.pass)[Symbol.asyncIterator]();
      this.pending = [];
      b = await this.raw();
    }
    if (!b) throw new TrainError('TRAIN_NO_DATA', 'the training data produced no batch');
    return collate(b);
  }
}

/** All examples of a split as one batch (for evaluation). */
export async function wholeSplit(data: Dataset<ScaledExample>): Promise<ExampleBatch> {
  const all: ScaledExample[] = [];
  for await (const c of data.chunks()) for (const e of c) all.push(e);
  return collate(all);
}
