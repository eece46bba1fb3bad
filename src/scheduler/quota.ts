// Queue quotas in Kueue's model: each ClusterQueue has a nominal quota; inside a cohort tree, unused quota is
// lent (up to lendingLimit) and borrowed (up to borrowingLimit). A queue's "guaranteed" part (nominal minus
// what it lends) is only ever its own; everything else of the tree forms one pool. Usage sums are kept
// incrementally so a check costs O(1) however many queues share a cohort.
import type { ClusterQueueConfig, Quota, QueueConfig } from './config-types.js';
import { add, sub, type Resources, ZERO } from './resources.js';

const KEYS = ['cores', 'memory'] as const;

interface QueueBook {
  name: string;
  root?: string;
  weight: number;
  nominal: Resources;
  guaranteed: Resources;
  borrowCap: Resources;
  usage: Resources;
}

/** Quota, usage and the cohort pools of every queue. */
export class QuotaBook {
  private readonly queues = new Map<string, QueueBook>();
  /** Per root cohort: the pool (sum of what members lend) and the members' use beyond their guaranteed part. */
  private readonly pools = new Map<string, { pool: Resources; excess: Resources }>();
  private readonly aliases = new Map<string, string>();

  constructor(config: QueueConfig, capacity: Resources) {
    const parent = new Map(config.cohorts.map((c) => [c.name, c.parentName]));
    const rootOf = (c: string): string => {
      let at = c;
      for (let p = parent.get(at); p; p = parent.get(at)) at = p;
      return at;
    };
    for (const q of config.clusterQueues) this.addQueue(q, capacity, q.cohort ? rootOf(q.cohort) : undefined);
    for (const l of config.localQueues) this.aliases.set(l.name, l.clusterQueue);
  }

  private addQueue(q: ClusterQueueConfig, capacity: Resources, root: string | undefined): void {
    const nominal = resolve(q.nominalQuota, capacity);
    const lendable = root ? resolve(q.lendingLimit, nominal, nominal) : ZERO;
    const guaranteed = sub(nominal, lendable);
    const borrowCap = root ? add(nominal, resolve(q.borrowingLimit, inf(), inf())) : nominal;
    this.queues.set(q.name, {
      name: q.name,
      root,
      weight: q.weight,
      nominal,
      guaranteed,
      borrowCap,
      usage: ZERO,
    });
    if (root) {
      const p = this.pools.get(root) ?? { pool: ZERO, excess: ZERO };
      this.pools.set(root, { pool: add(p.pool, lendable), excess: p.excess });
    }
  }

  /** The ClusterQueue a job's queue name means (a LocalQueue resolves to its ClusterQueue). */
  resolveName(queue: string): string | undefined {
    const q = this.aliases.get(queue) ?? queue;
    return this.queues.has(q) ? q : undefined;
  }

  names(): string[] {
    return [...this.queues.keys()];
  }

  weight(queue: string): number {
    return this.queues.get(queue)?.weight ?? 1;
  }

  /** Whether `queue` may take `r` more, given the usage changes in `without` (e.g. victims to be evicted). */
  fits(queue: string, r: Resources, without?: Map<string, Resources>): boolean {
    const q = this.queues.get(queue)!;
    const usage = add(sub(q.usage, without?.get(q.name) ?? ZERO), r);
    if (!within(usage, q.borrowCap)) return false;
    if (!q.root) return true;
    const pool = this.pools.get(q.root)!;
    let excess = sub(pool.excess, excessOf(q, q.usage));
    excess = add(excess, excessOf(q, usage));
    for (const [name, freed] of without ?? []) {
      const other = this.queues.get(name)!;
      if (other === q || other.root !== q.root) continue;
      excess = add(sub(excess, excessOf(other, other.usage)), excessOf(other, sub(other.usage, freed)));
    }
    return within(excess, pool.pool);
  }

  /** Records `r` more (or, negative, less) in use by `queue`. */
  use(queue: string, r: Resources): void {
    const q = this.queues.get(queue)!;
    const next = add(q.usage, r);
    if (q.root) {
      const pool = this.pools.get(q.root)!;
      pool.excess = add(sub(pool.excess, excessOf(q, q.usage)), excessOf(q, next));
    }
    q.usage = next;
  }

  /** True when the queue, given `r` more, stays within its nominal quota (Kueue reclaims only then). */
  withinNominal(queue: string, r: Resources): boolean {
    const q = this.queues.get(queue)!;
    return within(add(q.usage, r), q.nominal);
  }

  /** True when the queue uses more than its nominal quota (it borrows from its cohort). */
  borrowing(queue: string): boolean {
    const q = this.queues.get(queue)!;
    return !within(q.usage, q.nominal);
  }

  view(queue: string): { nominal: Resources; usage: Resources; cohort?: string; weight: number } {
    const q = this.queues.get(queue)!;
    return { nominal: q.nominal, usage: q.usage, cohort: q.root, weight: q.weight };
  }
}

const inf = (): Resources => ({ cores: Infinity, memory: Infinity });

function resolve(q: Quota | undefined, whole: Resources, missing: Resources = whole): Resources {
  if (!q) return { ...whole };
  return {
    cores: Math.min(q.cores ?? missing.cores, whole.cores),
    memory: Math.min(q.memory ?? missing.memory, whole.memory),
  };
}

const excessOf = (q: QueueBook, usage: Resources): Resources => ({
  cores: Math.max(0, usage.cores - q.guaranteed.cores),
  memory: Math.max(0, usage.memory - q.guaranteed.memory),
});

const within = (a: Resources, b: Resources): boolean => KEYS.every((k) => a[k] <= b[k] + 1e-9);
