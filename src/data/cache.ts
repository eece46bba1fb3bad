import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../durable/index.js';
import { sha256 } from './fingerprint.js';

/** Where a dataset's elements are kept after their first complete pass. */
export interface ElementCache<T> {
  readonly kind: 'memory' | 'disk';
  /** Replays the entry for `key`, or runs `upstream` once, recording it when the pass completes. */
  stream(key: string, upstream: () => AsyncIterable<readonly T[]>): AsyncIterable<readonly T[]>;
  readonly stats: CacheStats;
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Disk entries found damaged (wrong size, bad metadata) and rebuilt from the source. */
  repaired: number;
}

/** Keeps elements in memory; a pass abandoned half-way is discarded (like tf.data), never half-replayed. */
export class MemoryCache<T> implements ElementCache<T> {
  readonly kind = 'memory';
  readonly stats: CacheStats = { hits: 0, misses: 0, repaired: 0 };
  private readonly entries = new Map<string, (readonly T[])[]>();

  has(key: string): boolean {
    return this.entries.has(key);
  }

  async *stream(key: string, upstream: () => AsyncIterable<readonly T[]>): AsyncGenerator<readonly T[]> {
    const hit = this.entries.get(key);
    if (hit) {
      this.stats.hits++;
      yield* hit;
      return;
    }
    this.stats.misses++;
    const acc: (readonly T[])[] = [];
    for await (const c of upstream()) {
      acc.push(c);
      yield c;
    }
    this.entries.set(key, acc);
  }
}

/** Fixed-size binary encoding of one element, so a cache file can be validated by its size. */
export interface ElementCodec<T> {
  /** Identity of the encoding; part of the cache file name. */
  readonly id: string;
  readonly recordBytes: number;
  encode(x: T, out: Buffer, offset: number): void;
  /** Decodes a record; may return views into `buf`, which is never reused. */
  decode(buf: Buffer, offset: number): T;
}

interface DiskMeta {
  version: 1;
  codec: string;
  count: number;
  recordBytes: number;
  createdAt: string;
}

const READ_RECORDS = 4096;
const WRITE_BYTES = 1 << 20;

/**
 * Keeps elements in files under `dir`, named by the fingerprint of the data before the cache. An entry becomes
 * visible only when a pass completes (write, fsync, rename), so a crash never leaves a half cache; a damaged entry
 * is detected by its size and rebuilt.
 */
export class DiskCache<T> implements ElementCache<T> {
  readonly kind = 'disk';
  readonly stats: CacheStats = { hits: 0, misses: 0, repaired: 0 };

  constructor(
    readonly dir: string,
    private readonly codec: ElementCodec<T>,
  ) {}

  /** Path of the data file for a dataset key. */
  pathFor(key: string): string {
    return join(this.dir, `${sha256(`${key}\n${this.codec.id}`).slice(0, 32)}.bin`);
  }

  /** The entry's metadata and size, or undefined when there is no valid entry. */
  async entry(key: string): Promise<{ path: string; count: number; bytes: number } | undefined> {
    const path = this.pathFor(key);
    const meta = await this.readMeta(path);
    if (!meta) return undefined;
    return { path, count: meta.count, bytes: meta.count * meta.recordBytes };
  }

  async *stream(key: string, upstream: () => AsyncIterable<readonly T[]>): AsyncGenerator<readonly T[]> {
    const path = this.pathFor(key);
    const meta = await this.readMeta(path);
    if (meta) {
      this.stats.hits++;
      yield* this.replay(path, meta.count);
      return;
    }
    this.stats.misses++;
    yield* this.record(path, upstream());
  }

  private async readMeta(path: string): Promise<DiskMeta | undefined> {
    let meta: DiskMeta;
    try {
      meta = JSON.parse(await readFile(`${path}.json`, 'utf8')) as DiskMeta;
    } catch {
      return undefined;
    }
    const size = await stat(path).then(
      (s) => s.size,
      () => -1,
    );
    const valid =
      meta.version === 1 &&
      meta.codec === this.codec.id &&
      meta.recordBytes === this.codec.recordBytes &&
      Number.isInteger(meta.count) &&
      size === meta.count * meta.recordBytes;
    if (valid) return meta;
    this.stats.repaired++;
    await rm(`${path}.json`, { force: true });
    await rm(path, { force: true });
    return undefined;
  }

  private async *replay(path: string, count: number): AsyncGenerator<readonly T[]> {
    const rb = this.codec.recordBytes;
    const fh = await open(path, 'r');
    try {
      for (let done = 0; done < count; done += READ_RECORDS) {
        const n = Math.min(READ_RECORDS, count - done);
        // A fresh buffer per chunk: decoded elements may be views into it and outlive this loop.
        const buf = Buffer.allocUnsafeSlow(n * rb);
        const { bytesRead } = await fh.read(buf, 0, buf.length, done * rb);
        if (bytesRead !== buf.length) throw new Error(`cache file ${path} shrank while being read`);
        const out = new Array<T>(n);
        for (let i = 0; i < n; i++) out[i] = this.codec.decode(buf, i * rb);
        yield out;
      }
    } finally {
      await fh.close();
    }
  }

  private async *record(path: string, src: AsyncIterable<readonly T[]>): AsyncGenerator<readonly T[]> {
    await mkdir(this.dir, { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const fh = await open(tmp, 'w');
    const rb = this.codec.recordBytes;
    const buf = Buffer.alloc(Math.max(rb, Math.floor(WRITE_BYTES / rb) * rb));
    let used = 0;
    let count = 0;
    let committed = false;
    try {
      for await (const chunk of src) {
        for (const x of chunk) {
          if (used + rb > buf.length) {
            await fh.write(buf, 0, used);
            used = 0;
          }
          this.codec.encode(x, buf, used);
          used += rb;
        }
        count += chunk.length;
        yield chunk;
      }
      if (used) await fh.write(buf, 0, used);
      // Data first, durably (fsync, rename, fsync the folder), then the metadata that makes it an entry: after
      // a crash an entry is either whole or absent (the size check is the second line of defence).
      await fh.sync();
      await fh.close();
      await rename(tmp, path);
      await fsyncDir(this.dir);
      const meta: DiskMeta = {
        version: 1,
        codec: this.codec.id,
        count,
        recordBytes: rb,
        createdAt: new Date().toISOString(),
      };
      await writeFileAtomic(`${path}.json`, JSON.stringify(meta));
      committed = true;
    } finally {
      if (!committed) {
        await fh.close().catch(() => undefined);
        await rm(tmp, { force: true });
      }
    }
  }
}
