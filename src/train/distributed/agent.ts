import type { Store } from '../../engine/index.js';
import { TrainError } from '../errors.js';
import { K, type Generation, type MembershipChange } from './protocol.js';

export interface AgentOptions {
  /** A store client of the agent's own (its calls must not queue behind workers' blocking waits). */
  store: Store;
  /** Joins to wait for before forming the first generation. */
  initialWorkers: number;
  minWorkers: number;
  maxWorkers: number;
  /** A member whose heartbeat counter has not moved for this long is dead. Default 10 s. */
  heartbeatTimeoutMs?: number;
  pollMs?: number;
  /** How long to wait for enough workers (first formation, or after losses below the minimum). Default 120 s. */
  rendezvousTimeoutMs?: number;
  /**
   * Called when a generation forms, and when members are lost while the group waits for enough workers
   * (then `gen` is the current generation without them; no new generation is published).
   */
  onChange?: (change: MembershipChange, gen: Generation) => void;
  /** Called when a member is declared dead, so a local process can be killed for good (its sockets close). */
  onDead?: (id: string, reason: string) => void;
}

interface Seen {
  value: string | undefined;
  at: number;
}

/**
 * The elastic agent (book 3.4): owns the job's membership. It admits registered workers, watches their
 * heartbeats, and forms a new generation — survivors first, in their old rank order, then newcomers — when a
 * member dies or hangs, when a worker joins, or when a collective failed without anyone dying (a network
 * stall: the group re-forms and retries the step). It ends when the chief publishes the result.
 */
export class ElasticAgent {
  readonly changes: MembershipChange[] = [];
  private members: string[] = [];
  private pending: string[] = [];
  private generation = -1;
  private joinsSeen = 0;
  private readonly heartbeats = new Map<string, Seen>();
  private readonly dead = new Map<string, string>();
  private readonly left = new Set<string>();
  private waitingSince = Date.now();
  private faultSeenAt = 0;
  private stopped = false;
  /** Members wanted: workers that join are admitted up to this; above it members are asked to leave. */
  private target: number;
  private readonly dismissed = new Set<string>();

  constructor(private readonly o: AgentOptions) {
    this.target = o.maxWorkers;
  }

  /**
   * Elastic resize (book 6.2.3): the group becomes `workers` strong at the next step boundary. Growing admits
   * workers that register (the launcher starts them); shrinking asks the newest members to leave: they are
   * dismissed, not declared dead. Bounded by --min-workers and --max-workers.
   */
  resize(workers: number): void {
    this.target = Math.max(this.o.minWorkers, Math.min(this.o.maxWorkers, workers));
  }

  /** True for a member asked to leave by a shrink: its exit is neither a death nor the end of training. */
  isDismissed(id: string): boolean {
    return this.dismissed.has(id);
  }

  /** Members wanted now (see resize). */
  get wanted(): number {
    return this.target;
  }

  /** Reports a worker's death seen by its launcher (process exit), faster than missed heartbeats. */
  markDead(id: string, reason: string): void {
    if (!this.dead.has(id) && !this.left.has(id)) this.dead.set(id, reason);
  }

  /** Stops the loop (the job is being torn down). */
  stop(): void {
    this.stopped = true;
  }

  get currentMembers(): readonly string[] {
    return this.members;
  }

  /** Set when the job ended by preemption: run() then returned the chief's PreemptionPoint (JSON text). */
  preempted = false;

  /**
   * Runs until the chief publishes the result (returned as its JSON text) or its preemption point (then
   * `preempted` is set and that is returned), or the job must abort.
   */
  async run(): Promise<string> {
    const store = this.o.store;
    await store.set(K.agent, String(process.pid));
    const poll = this.o.pollMs ?? 200;
    while (!this.stopped) {
      const done = await store.tryGet(K.done);
      if (done !== undefined) return done;
      const point = await store.tryGet(K.preempted);
      if (point !== undefined) {
        this.preempted = true;
        return point;
      }
      await this.admitJoins();
      await this.checkLiveness();
      await this.decide();
      await new Promise((r) => setTimeout(r, poll));
    }
    throw new TrainError('TRAIN_ABORTED', 'the elastic agent was stopped before training finished');
  }

  private async admitJoins(): Promise<void> {
    const n = Number((await this.o.store.tryGet(K.joins)) ?? 0);
    for (let i = this.joinsSeen + 1; i <= n; i++) {
      const id = await this.o.store.get(K.join(i), 5000);
      this.pending.push(id);
      this.heartbeats.set(id, { value: undefined, at: Date.now() });
    }
    this.joinsSeen = Math.max(this.joinsSeen, n);
  }

  private async checkLiveness(): Promise<void> {
    const timeout = this.o.heartbeatTimeoutMs ?? 10_000;
    const now = Date.now();
    for (const id of [...this.members, ...this.pending]) {
      if (this.dead.has(id)) continue;
      if (await this.o.store.check([K.left(id)])) {
        this.left.add(id);
        continue;
      }
      const value = await this.o.store.tryGet(K.heartbeat(id));
      const seen = this.heartbeats.get(id) ?? { value: undefined, at: now };
      // Staleness by the agent's own clock: hosts' clocks need not agree.
      if (value !== seen.value) this.heartbeats.set(id, { value, at: now });
      else if (now - seen.at > timeout)
        this.dead.set(id, `missed heartbeats for ${Math.round((now - seen.at) / 1000)} s`);
    }
    for (const [id, reason] of this.dead) {
      if (this.members.includes(id) || this.pending.includes(id)) this.o.onDead?.(id, reason);
    }
    this.pending = this.pending.filter((id) => !this.dead.has(id) && !this.left.has(id));
  }

  private async decide(): Promise<void> {
    const { minWorkers, maxWorkers } = this.o;
    const rendezvousTimeout = this.o.rendezvousTimeoutMs ?? 120_000;
    if (this.generation < 0) {
      const enough = this.pending.length >= this.o.initialWorkers;
      const late =
        this.pending.length >= minWorkers && Date.now() - this.waitingSince > rendezvousTimeout / 4;
      if (enough || late) await this.form(this.pending.slice(0, this.target), 'job started');
      else
        this.checkWaited(
          rendezvousTimeout,
          `only ${this.pending.length} of ${this.o.initialWorkers} workers arrived`,
        );
      return;
    }
    const lost = this.members.filter((id) => this.dead.has(id));
    const alive = this.members.filter((id) => !this.dead.has(id) && !this.left.has(id));
    const leaving = await this.dismissAbove(alive);
    const staying = alive.slice(0, alive.length - leaving.length);
    const target = [...staying, ...this.pending].slice(0, Math.min(maxWorkers, this.target));
    const joiners = target.slice(staying.length);
    const lostReason = lost.length
      ? `worker${lost.length > 1 ? 's' : ''} lost (${lost.map((id) => `${id}: ${this.dead.get(id)}`).join('; ')})`
      : undefined;
    const joinReason = joiners.length
      ? `worker${joiners.length > 1 ? 's' : ''} joined (${joiners.join(', ')})`
      : undefined;
    const leaveReason = leaving.length
      ? `shrink to ${this.target} requested (${leaving.join(', ')} asked to leave)`
      : undefined;
    // A loss and a join seen in one poll (a replacement that arrived quickly) form one generation naming both.
    let reason = [lostReason, leaveReason, joinReason].filter(Boolean).join('; ') || undefined;
    if (!reason && Number((await this.o.store.tryGet(K.faults(this.generation))) ?? 0) > 0) {
      // Give death detection the first word; a fault with everyone alive is a stall worth retrying.
      this.faultSeenAt ||= Date.now();
      if (Date.now() - this.faultSeenAt > Math.min(3000, (this.o.heartbeatTimeoutMs ?? 10_000) / 2)) {
        reason = 'collective failed with every member alive (network stall); retrying the step';
      }
    }
    if (!reason) {
      if (alive.length < minWorkers)
        this.checkWaited(
          rendezvousTimeout,
          `${alive.length} workers left, fewer than --min-workers ${minWorkers}`,
        );
      return;
    }
    if (target.length >= minWorkers) {
      await this.form(target, reason);
      return;
    }
    // Too few to go on: drop the dead now (recorded, so the result shows the loss as well as the later join),
    // wait for replacements, abort after the rendezvous timeout.
    if (lostReason) {
      this.recordLoss(alive, `${lostReason}; waiting for workers: fewer than --min-workers ${minWorkers}`);
      this.waitingSince = Date.now();
    }
    this.checkWaited(
      rendezvousTimeout,
      `${target.length} workers available, fewer than --min-workers ${minWorkers}`,
    );
  }

  /** Dismisses the newest members above the wanted size (never rank 0): they leave at the next boundary. */
  private async dismissAbove(alive: string[]): Promise<string[]> {
    const leaving = alive.slice(Math.max(1, this.target));
    for (const id of leaving) {
      this.dismissed.add(id);
      this.left.add(id);
      await this.o.store.set(K.dismissed(id), '1');
    }
    return leaving;
  }

  private checkWaited(timeoutMs: number, what: string): void {
    if (Date.now() - this.waitingSince > timeoutMs) {
      void this.o.store.set(K.abort, what);
      this.stopped = true;
      throw new TrainError(
        'TRAIN_ABORTED',
        `elastic job aborted: ${what} within ${timeoutMs / 1000} s; start more workers or lower --min-workers`,
      );
    }
  }

  /** Members lost while the group waits: no generation forms, but the change is recorded and reported. */
  private recordLoss(alive: string[], reason: string): void {
    const at = new Date().toISOString();
    const change: MembershipChange = {
      at,
      from: this.members.length,
      to: alive.length,
      reason,
      generation: this.generation,
    };
    this.members = alive;
    this.changes.push(change);
    this.o.onChange?.(change, { generation: this.generation, members: alive, reason, at });
  }

  private async form(members: string[], reason: string): Promise<void> {
    const from = this.members.length;
    const g = this.generation + 1;
    const gen: Generation = { generation: g, members, reason, at: new Date().toISOString() };
    await this.o.store.set(K.members(g), JSON.stringify(gen));
    await this.o.store.set(K.generation, String(g));
    this.generation = g;
    this.members = members;
    this.pending = this.pending.filter((id) => !members.includes(id));
    this.waitingSince = Date.now();
    this.faultSeenAt = 0;
    const change: MembershipChange = { at: gen.at, from, to: members.length, reason, generation: g };
    if (g > 0) this.changes.push(change);
    this.o.onChange?.(change, gen);
  }
}
