import { TrainError } from '../errors.js';

/** A trainable tensor in the model's flat parameter order (getParameters/getGradients). */
export interface TensorSlot {
  name: string;
  size: number;
}

/** The part of one tensor a shard holds: elements [from, to) of the tensor. */
export interface ShardPiece {
  name: string;
  from: number;
  to: number;
}

/** One parameter server's contiguous slice [start, end) of the flat parameter vector. */
export interface Shard {
  index: number;
  start: number;
  end: number;
  pieces: ShardPiece[];
}

export interface Partition {
  total: number;
  shards: Shard[];
  /** Largest shard over the ideal share total/P (1 = perfectly balanced). */
  imbalance: number;
  /** Cuts that fall inside a tensor (no tensor boundary was close enough to the ideal cut). */
  splitTensors: string[];
}

/**
 * Cuts the flat parameter vector into `servers` contiguous shards balanced by size. Each cut goes to the
 * tensor boundary nearest the ideal cut k·total/P when that boundary is within `tolerance` of a share of it,
 * else exactly at the ideal cut, inside a tensor (a large kernel is shared between servers rather than
 * leaving one of them with most of the model).
 */
export function partitionParameters(
  tensors: readonly TensorSlot[],
  servers: number,
  tolerance = 0.05,
): Partition {
  const total = tensors.reduce((n, t) => n + t.size, 0);
  if (!Number.isInteger(servers) || servers < 1)
    throw new TrainError('TRAIN_BAD_OPTION', `parameter servers must be a positive integer (got ${servers})`);
  if (servers > total)
    throw new TrainError(
      'TRAIN_BAD_OPTION',
      `${servers} parameter servers for ${total} parameters: use fewer`,
    );
  const bounds: number[] = [];
  let off = 0;
  for (const t of tensors) bounds.push((off += t.size));
  const share = total / servers;
  const cuts = [0];
  for (let k = 1; k < servers; k++) {
    const ideal = Math.round(k * share);
    const prev = cuts[cuts.length - 1] as number;
    const nearest = bounds
      .filter((b) => b > prev && b < total)
      .reduce<number | undefined>(
        (best, b) => (best === undefined || Math.abs(b - ideal) < Math.abs(best - ideal) ? b : best),
        undefined,
      );
    const remaining = servers - k; // shards still to place after this cut, each needs ≥ 1 element
    const ok = (c: number) => c > prev && total - c >= remaining;
    const cut =
      nearest !== undefined && Math.abs(nearest - ideal) <= tolerance * share && ok(nearest)
        ? nearest
        : Math.max(prev + 1, Math.min(ideal, total - remaining));
    cuts.push(cut);
  }
  cuts.push(total);
  const shards: Shard[] = [];
  const split = new Set<string>();
  for (let k = 0; k < servers; k++) {
    const start = cuts[k] as number;
    const end = cuts[k + 1] as number;
    shards.push({ index: k, start, end, pieces: piecesOf(tensors, start, end) });
  }
  for (const s of shards) for (const p of s.pieces) if (p.from > 0) split.add(p.name);
  const imbalance = Math.max(...shards.map((s) => s.end - s.start)) / share;
  return { total, shards, imbalance, splitTensors: [...split] };
}

function piecesOf(tensors: readonly TensorSlot[], start: number, end: number): ShardPiece[] {
  const pieces: ShardPiece[] = [];
  let off = 0;
  for (const t of tensors) {
    const a = Math.max(start, off);
    const b = Math.min(end, off + t.size);
    if (a < b) pieces.push({ name: t.name, from: a - off, to: b - off });
    off += t.size;
  }
  return pieces;
}

/** Checks a partition received from outside (env, a peer): contiguous, non-empty, covering `total`. */
export function checkPartition(p: Pick<Partition, 'shards'>, total: number): void {
  let at = 0;
  p.shards.forEach((s, i) => {
    if (s.index !== i || s.start !== at || s.end <= s.start)
      throw new TrainError(
        'TRAIN_BAD_OPTION',
        `parameter partition shard ${i} is not contiguous and non-empty`,
      );
    at = s.end;
  });
  if (at !== total)
    throw new TrainError(
      'TRAIN_BAD_OPTION',
      `parameter partition covers ${at} parameters but the model has ${total}; launch servers and workers with the same --model`,
    );
}
