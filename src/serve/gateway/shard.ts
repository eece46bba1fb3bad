// Sharded services (book 4.3): a request with many examples is split into sub-requests, each sent to a
// different replica in parallel, and the answers are put back in the original order. The sharding function
// is a hash of the example's index modulo the number of shards, so the split is deterministic and even.

/** The shard of example `index` among `shards` (a 32-bit integer mix, then modulo). */
export function shardOf(index: number, shards: number): number {
  let h = index >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % shards;
}

/** For each shard, the original indices of its examples (ascending); empty shards are dropped. */
export function partition(count: number, shards: number): number[][] {
  const parts: number[][] = Array.from({ length: shards }, () => []);
  for (let i = 0; i < count; i++) (parts[shardOf(i, shards)] as number[]).push(i);
  return parts.filter((p) => p.length > 0);
}

/** Puts per-shard answers back in the original order: `answers[k][j]` belongs at `parts[k][j]`. */
export function merge<T>(count: number, parts: number[][], answers: T[][]): T[] {
  const out = new Array<T>(count);
  parts.forEach((indices, k) => {
    const a = answers[k] as T[];
    if (a.length !== indices.length)
      throw new Error(`shard ${k} answered ${a.length} results for ${indices.length} examples`);
    indices.forEach((orig, j) => (out[orig] = a[j] as T));
  });
  return out;
}

/** A V2 tensor's rows: the flat data split along the first dimension. */
export function tensorRows(shape: number[], data: unknown[]): unknown[][] {
  const n = shape[0] ?? 0;
  const flat = data.flat(Infinity);
  const width = n > 0 ? flat.length / n : 0;
  return Array.from({ length: n }, (_, i) => flat.slice(i * width, (i + 1) * width));
}
