// Load-balancing policies (book 4.2.2: "round robin, least connection method, hashing"). A policy picks one
// of the ready replicas for a request; it never sees replicas that are starting, unready or draining.
import { createHash } from 'node:crypto';

export type BalancePolicy = 'round-robin' | 'least-connections' | 'consistent-hash';
export const BALANCE_POLICIES: BalancePolicy[] = ['round-robin', 'least-connections', 'consistent-hash'];

/** What a balancer needs to know about a replica. */
export interface Target {
  id: number;
  inFlight: number;
}

export interface Balancer {
  /** One of `ready` (non-empty), for a request whose affinity key is `key` (used by consistent-hash only). */
  pick<T extends Target>(ready: T[], key: string): T;
}

/** Builds the balancer for a policy. */
export function createBalancer(policy: BalancePolicy): Balancer {
  switch (policy) {
    case 'round-robin':
      return new RoundRobin();
    case 'least-connections':
      return new LeastConnections();
    case 'consistent-hash':
      return new ConsistentHash();
  }
}

/** Each request to the next replica of a rotating list. */
class RoundRobin implements Balancer {
  private n = 0;
  pick<T extends Target>(ready: T[]): T {
    return ready[this.n++ % ready.length] as T;
  }
}

/** The replica with the fewest requests in flight; ties rotate so equal replicas share the load. */
class LeastConnections implements Balancer {
  private n = 0;
  pick<T extends Target>(ready: T[]): T {
    const least = Math.min(...ready.map((r) => r.inFlight));
    const ties = ready.filter((r) => r.inFlight === least);
    return ties[this.n++ % ties.length] as T;
  }
}

/** A well-spread 32-bit position on the ring (the first 4 bytes of MD5; not for security). */
export function ringPosition(s: string): number {
  return createHash('md5').update(s).digest().readUInt32BE(0);
}

/**
 * A hash ring with virtual nodes: a key keeps going to the same replica while the set of ready replicas is
 * unchanged, and when a replica joins or leaves only about 1/N of the keys move (Karger et al.).
 */
class ConsistentHash implements Balancer {
  private ring: { at: number; id: number }[] = [];
  private members = '';
  constructor(private readonly virtualNodes = 64) {}

  pick<T extends Target>(ready: T[], key: string): T {
    const members = ready.map((r) => r.id).join(',');
    if (members !== this.members) this.rebuild(ready);
    const h = ringPosition(key);
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.ring[mid] as { at: number }).at < h) lo = mid + 1;
      else hi = mid;
    }
    const id = (this.ring[lo % this.ring.length] as { id: number }).id;
    return ready.find((r) => r.id === id) as T;
  }

  private rebuild(ready: Target[]): void {
    this.members = ready.map((r) => r.id).join(',');
    this.ring = ready
      .flatMap((r) =>
        Array.from({ length: this.virtualNodes }, (_, v) => ({ at: ringPosition(`${r.id}#${v}`), id: r.id })),
      )
      .sort((a, b) => a.at - b.at);
  }
}
