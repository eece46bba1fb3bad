// The tree fair share divides the machine along (Kueue's hierarchical cohorts, then the book's 6.2.2): the
// machine among its top-level cohorts and the queues outside any cohort, a cohort among its child cohorts and
// queues, each by fairSharing.weight; a queue among the groups with jobs in it, a group among its users, by
// their weights; a user's part of a queue equally among the user's jobs in it. Only active nodes (with a
// pending or running job below them) count, so an idle branch's part goes to its siblings.
// The pending order ranks users (a user's charge against the sum of the user's parts); a user's own jobs go in
// submission order, so the split of one user's part between that user's queues is exact for elastic jobs
// (members follow each job's part) and follows submission for rigid ones.
import type { QueueConfig } from './config-types.js';

interface Node {
  weight: number;
  parent?: Node;
  /** Weight sum and count of the active children. */
  sum: number;
  n: number;
  /** Active jobs below (a leaf: the user's jobs in the queue). */
  jobs: number;
  /** The node's share as of tree version `at`. */
  at: number;
  share: number;
}

/** x/sum of weights, or an equal split when every weight is zero. */
const part = (w: number, sum: number, n: number): number => (sum > 0 ? w / sum : n > 0 ? 1 / n : 0);

export interface Membership {
  group(user: string): string;
  weightOfUser(user: string): number;
  weightOfGroup(group: string): number;
}

/** Entitlements kept incrementally as jobs become active and inactive: O(depth) per change. */
export class ShareTree {
  private readonly root: Node = { weight: 1, sum: 0, n: 0, jobs: 0, at: -1, share: 0 };
  private readonly queues = new Map<string, Node>();
  private readonly leaves = new Map<string, Node>();
  /** Per user: the user's active leaves, by queue. */
  private readonly byUser = new Map<string, Map<string, Node>>();
  /** Bumped whenever the set of active nodes changes: shares computed before stay valid until then. */
  private version = 0;
  private readonly userCache = new Map<string, { at: number; share: number }>();

  constructor(
    config: QueueConfig,
    private readonly members: Membership,
  ) {
    const cohorts = new Map<string, Node>();
    const cohort = (name: string): Node => {
      const known = cohorts.get(name);
      if (known) return known;
      const c = config.cohorts.find((x) => x.name === name);
      const node: Node = { weight: c?.weight ?? 1, sum: 0, n: 0, jobs: 0, at: -1, share: 0 };
      cohorts.set(name, node);
      node.parent = c?.parentName ? cohort(c.parentName) : this.root;
      return node;
    };
    for (const q of config.clusterQueues) {
      const parent = q.cohort ? cohort(q.cohort) : this.root;
      this.queues.set(q.name, { weight: q.weight, parent, sum: 0, n: 0, jobs: 0, at: -1, share: 0 });
    }
  }

  private leaf(user: string, queue: string): Node {
    const key = `${queue}\u0000${user}`;
    const known = this.leaves.get(key);
    if (known) return known;
    const q = this.queues.get(queue)!;
    const g = this.members.group(user);
    const gKey = `${queue}\u0000\u0000${g}`;
    let group = this.leaves.get(gKey);
    if (!group) {
      group = { weight: this.members.weightOfGroup(g), parent: q, sum: 0, n: 0, jobs: 0, at: -1, share: 0 };
      this.leaves.set(gKey, group);
    }
    const node: Node = {
      weight: this.members.weightOfUser(user),
      parent: group,
      sum: 0,
      n: 0,
      jobs: 0,
      at: -1,
      share: 0,
    };
    this.leaves.set(key, node);
    return node;
  }

  /** A job of `user` in `queue` became active (+1) or inactive (−1). */
  activate(user: string, queue: string, sign: 1 | -1): void {
    const leaf = this.leaf(user, queue);
    leaf.jobs += sign;
    const mine = this.byUser.get(user) ?? new Map<string, Node>();
    if (leaf.jobs > 0) mine.set(queue, leaf);
    else mine.delete(queue);
    if (mine.size > 0) this.byUser.set(user, mine);
    else this.byUser.delete(user);
    if (leaf.jobs !== (sign > 0 ? 1 : 0)) return; // still active (or still inactive): no share changes
    this.version++;
    for (let at: Node = leaf; at.parent; at = at.parent) {
      const p = at.parent;
      const wasActive = p.n > 0;
      p.sum += sign * at.weight;
      p.n += sign;
      if (wasActive === p.n > 0) break;
    }
  }

  private share(node: Node): number {
    if (node.at === this.version) return node.share;
    let share = 1;
    for (let at = node; at.parent; at = at.parent) share *= part(at.weight, at.parent.sum, at.parent.n);
    node.at = this.version;
    node.share = share;
    return share;
  }

  /** The user's part of the machine: the sum over the queues where the user has jobs. */
  userShare(user: string): number {
    const c = this.userCache.get(user);
    if (c?.at === this.version) return c.share;
    let share = 0;
    for (const leaf of this.byUser.get(user)?.values() ?? []) share += this.share(leaf);
    this.userCache.set(user, { at: this.version, share });
    return share;
  }

  /** The part of one active job of `user` in `queue`. */
  jobShare(user: string, queue: string): number {
    const leaf = this.byUser.get(user)?.get(queue);
    return leaf ? this.share(leaf) / leaf.jobs : 0;
  }

  activeUsers(): string[] {
    return [...this.byUser.keys()];
  }
}
