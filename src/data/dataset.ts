import { DataError } from './errors.js';
import { sha256 } from './fingerprint.js';
import { fnv1a, mixSeed, mulberry32 } from './random.js';
import type { ElementCache } from './cache.js';

/**
 * A pass over the data, as chunks of elements: operations run a synchronous loop per chunk, so the cost of
 * an `await` is paid per chunk, not per element per operation. `iteration` numbers the passes so seeded
 * shuffles differ per epoch, reproducibly.
 */
export type Stream<T> = (iteration: number) => AsyncIterable<readonly T[]>;

/** Where elements come from. `files` is set for file-backed sources so FILE sharding can split the file list. */
export interface Source<T> {
  /** Identity of the source's content (e.g. SHA-256 of its files); part of every fingerprint downstream. */
  fingerprint: string;
  open: Stream<T>;
  files?: { list: readonly string[]; select(list: readonly string[]): Source<T> };
}

export type ShardPolicy = 'data' | 'file';

const ARRAY_CHUNK = 1024;

/**
 * A lazy, streaming dataset in the manner of tf.data: every operation returns a new Dataset and nothing is
 * read until it is iterated. Memory stays bounded by batch, shuffle-buffer and cache choices.
 * The `lineage` (source fingerprint + named operations) identifies the content; `fingerprint` hashes it.
 */
export class Dataset<T> implements AsyncIterable<T> {
  private passes = 0;
  private built: Stream<T> | undefined;

  private constructor(
    private readonly source: Source<unknown>,
    private readonly build: (source: Source<unknown>, lineage: readonly string[]) => Stream<T>,
    readonly lineage: readonly string[],
  ) {}

  /** A dataset over a source. */
  static fromSource<T>(source: Source<T>): Dataset<T> {
    return new Dataset<T>(source as Source<unknown>, (s) => s.open as Stream<T>, [
      `source:${source.fingerprint}`,
    ]);
  }

  /** A dataset over in-memory items (tests, small data). */
  static fromArray<T>(items: readonly T[], fingerprint = 'array'): Dataset<T> {
    return Dataset.fromSource({
      fingerprint,
      open: () =>
        (async function* () {
          for (let i = 0; i < items.length; i += ARRAY_CHUNK) yield items.slice(i, i + ARRAY_CHUNK);
        })(),
    });
  }

  /** A dataset reading files one after another; FILE sharding assigns whole files to shards. */
  static fromFiles<T>(
    files: readonly string[],
    open: (file: string) => AsyncIterable<T>,
    fingerprint: string,
  ): Dataset<T> {
    const make = (list: readonly string[]): Source<T> => ({
      fingerprint: `${fingerprint}[${list.join(',')}]`,
      open: () =>
        (async function* () {
          for (const f of list) for await (const x of open(f)) yield [x];
        })(),
      files: { list, select: make },
    });
    return Dataset.fromSource(make(files));
  }

  /** SHA-256 over the lineage: equal fingerprints mean equal content. */
  get fingerprint(): string {
    return sha256(this.lineage.join('\n'));
  }

  /**
   * One pass, chunk by chunk: the fast way to consume a dataset. Passes are numbered 0, 1, 2… in call order;
   * `pass` names one explicitly, so a resumed job replays exactly the shuffle order of the epoch it stopped in.
   */
  chunks(pass?: number): AsyncIterable<readonly T[]> {
    this.built ??= this.build(this.source, this.lineage);
    if (pass !== undefined) nonNegativeInt('pass', pass);
    return this.built(pass ?? this.passes++);
  }

  /** One pass, element by element. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for await (const chunk of this.chunks()) yield* chunk;
  }

  /** Appends an operation; `op` undefined marks one that does not change content (it keeps the lineage). */
  private then<U>(
    op: string | undefined,
    apply: (up: Stream<T>, lineage: readonly string[]) => Stream<U>,
  ): Dataset<U> {
    const lineage = op === undefined ? this.lineage : [...this.lineage, op];
    const upstream = (l: readonly string[]) => (op === undefined ? l : l.slice(0, -1));
    return new Dataset<U>(this.source, (s, l) => apply(this.build(s, upstream(l)), l), lineage);
  }

  /** Applies `fn` to every element; `name` describes the transform and enters the fingerprint. */
  map<U>(name: string, fn: (x: T) => U): Dataset<U> {
    return this.then(`map:${name}`, (up) => (it) => perChunk(up(it), (c) => c.map(fn)));
  }

  /** Keeps elements for which `pred` holds. */
  filter(name: string, pred: (x: T) => boolean): Dataset<T> {
    return this.then(`filter:${name}`, (up) => (it) => perChunk(up(it), (c) => c.filter(pred)));
  }

  /**
   * Shuffles with a buffer of `bufferSize` elements (tf.data semantics: uniform only when the buffer holds the
   * whole dataset). Reproducible for a given seed; each pass is shuffled differently.
   */
  shuffle(bufferSize: number, seed: number): Dataset<T> {
    positiveInt('shuffle bufferSize', bufferSize);
    return this.then(
      `shuffle:${bufferSize}:${seed}`,
      (up) => (it) => shuffleIter(up(it), bufferSize, mixSeed(seed, it)),
    );
  }

  /** Groups consecutive elements into arrays of `size`; the last short batch is kept unless `dropRemainder`. */
  batch(size: number, opts: { dropRemainder?: boolean } = {}): Dataset<T[]> {
    positiveInt('batch size', size);
    const drop = opts.dropRemainder ?? false;
    return this.then(`batch:${size}:${drop}`, (up) => (it) => batchIter(up(it), size, drop));
  }

  /** Repeats the data `count` times, or forever when count is undefined. */
  repeat(count?: number): Dataset<T> {
    if (count !== undefined) nonNegativeInt('repeat count', count);
    return this.then(`repeat:${count ?? 'inf'}`, (up) => (it) => repeatIter(up, it, count));
  }

  /** The first `n` elements. */
  take(n: number): Dataset<T> {
    nonNegativeInt('take count', n);
    return this.then(`take:${n}`, (up) => (it) => takeIter(up(it), n));
  }

  /** Everything after the first `n` elements. */
  skip(n: number): Dataset<T> {
    nonNegativeInt('skip count', n);
    return this.then(`skip:${n}`, (up) => (it) => {
      let seen = 0;
      return perChunk(up(it), (c) => {
        const from = Math.max(0, Math.min(c.length, n - seen));
        seen += c.length;
        return from === 0 ? c : c.slice(from);
      });
    });
  }

  /**
   * Keeps this worker's shard. Policy DATA: element i goes to shard i mod numShards (every worker reads all and
   * keeps its part). Policy FILE: whole files go to shards (file j to shard j mod numShards), so a worker only
   * opens its own files; it needs a file-backed source with at least numShards files.
   */
  shard(numShards: number, index: number, policy: ShardPolicy = 'data'): Dataset<T> {
    checkShard(numShards, index);
    if (policy === 'data') {
      return this.then(`shard:data:${numShards}:${index}`, (up) => (it) => {
        let i = 0;
        return perChunk(up(it), (c) => c.filter(() => i++ % numShards === index));
      });
    }
    const files = this.source.files;
    if (!files) {
      throw new DataError(
        'DATA_BAD_OPTION',
        "FILE sharding needs a dataset read from files; use policy 'data' instead",
      );
    }
    if (files.list.length < numShards) {
      throw new DataError(
        'DATA_BAD_OPTION',
        `FILE sharding over ${numShards} shards needs at least ${numShards} files, the dataset has ${files.list.length}; use policy 'data'`,
      );
    }
    const source = files.select(files.list.filter((_, j) => j % numShards === index));
    return new Dataset<T>(source, this.build, [`source:${source.fingerprint}`, ...this.lineage.slice(1)]);
  }

  /** Keeps elements whose key hashes (FNV-1a) to this shard: stable under reordering of the data. */
  shardByKey(numShards: number, index: number, key: (x: T) => string | number): Dataset<T> {
    checkShard(numShards, index);
    return this.then(
      `shard:hash:${numShards}:${index}`,
      (up) => (it) => perChunk(up(it), (c) => c.filter((x) => fnv1a(key(x)) % numShards === index)),
    );
  }

  /**
   * Caches elements after their first complete pass (book 2.4): later passes replay the cache and never touch
   * the upstream. `cache` decides where (memory or disk); its key is this point's fingerprint. Caching does not
   * change content, so it leaves the lineage (and fingerprint) as it is.
   */
  cache(cache: ElementCache<T>): Dataset<T> {
    return this.then(undefined, (up, lineage) => {
      const key = sha256(lineage.join('\n'));
      return (it) => cache.stream(key, () => up(it));
    });
  }
}

async function* perChunk<T, U>(
  src: AsyncIterable<readonly T[]>,
  fn: (c: readonly T[]) => readonly U[],
): AsyncGenerator<readonly U[]> {
  for await (const c of src) {
    const out = fn(c);
    if (out.length) yield out;
  }
}

async function* shuffleIter<T>(
  src: AsyncIterable<readonly T[]>,
  size: number,
  seed: number,
): AsyncGenerator<readonly T[]> {
  const rand = mulberry32(seed);
  const buf: T[] = [];
  for await (const c of src) {
    const out: T[] = [];
    for (const x of c) {
      if (buf.length < size) {
        buf.push(x);
        continue;
      }
      const j = Math.floor(rand() * size);
      out.push(buf[j] as T);
      buf[j] = x;
    }
    if (out.length) yield out;
  }
  const out: T[] = [];
  while (buf.length) {
    const j = Math.floor(rand() * buf.length);
    out.push(buf[j] as T);
    buf[j] = buf[buf.length - 1] as T;
    buf.pop();
  }
  for (let i = 0; i < out.length; i += ARRAY_CHUNK) yield out.slice(i, i + ARRAY_CHUNK);
}

async function* batchIter<T>(
  src: AsyncIterable<readonly T[]>,
  size: number,
  drop: boolean,
): AsyncGenerator<T[][]> {
  let cur: T[] = [];
  for await (const c of src) {
    const out: T[][] = [];
    for (const x of c) {
      cur.push(x);
      if (cur.length === size) {
        out.push(cur);
        cur = [];
      }
    }
    if (out.length) yield out;
  }
  if (cur.length && !drop) yield [cur];
}

async function* repeatIter<T>(
  up: Stream<T>,
  it: number,
  count: number | undefined,
): AsyncGenerator<readonly T[]> {
  for (let r = 0; count === undefined || r < count; r++) {
    let any = false;
    for await (const c of up(it * 1_000_003 + r)) {
      any = true;
      yield c;
    }
    if (!any) return; // repeating an empty dataset forever would spin
  }
}

async function* takeIter<T>(src: AsyncIterable<readonly T[]>, n: number): AsyncGenerator<readonly T[]> {
  if (n === 0) return;
  let left = n;
  for await (const c of src) {
    if (c.length >= left) {
      yield c.slice(0, left);
      return;
    }
    left -= c.length;
    yield c;
  }
}

function positiveInt(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new DataError('DATA_BAD_OPTION', `${what} must be a positive integer (got ${v})`);
}

function nonNegativeInt(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0)
    throw new DataError('DATA_BAD_OPTION', `${what} must be a non-negative integer (got ${v})`);
}

function checkShard(numShards: number, index: number): void {
  positiveInt('numShards', numShards);
  if (!Number.isInteger(index) || index < 0 || index >= numShards) {
    throw new DataError(
      'DATA_BAD_OPTION',
      `shard index must be an integer in [0, ${numShards - 1}] (got ${index})`,
    );
  }
}
