// Keys and records of the elastic protocol, kept in the job's c10d TCPStore. The agent owns membership
// (generations); workers register, heartbeat, report collective faults, and follow generations.

export const K = {
  agent: 'elastic/agent',
  joins: 'elastic/joins',
  join: (i: number) => `elastic/join/${i}`,
  heartbeat: (id: string) => `elastic/hb/${id}`,
  left: (id: string) => `elastic/left/${id}`,
  generation: 'elastic/gen',
  members: (g: number) => `elastic/gen/${g}`,
  faults: (g: number) => `elastic/fault/${g}`,
  state: (g: number) => `elastic/state/${g}`,
  done: 'elastic/done',
  abort: 'elastic/abort',
  /** Set by the launcher when the job is asked to stop for preemption (its value: why). */
  preempt: 'elastic/preempt',
  /** Set by the chief once it checkpointed at the agreed step boundary: the PreemptionPoint as JSON. */
  preempted: 'elastic/preempted',
  /** Set by the agent for a member asked to leave (the job shrinks): it exits cleanly at the next boundary. */
  dismissed: (id: string) => `elastic/dismissed/${id}`,
  report: (id: string) => `elastic/report/${id}`,
  epochLog: (epoch: number) => `elastic/epoch/${epoch}`,
} as const;

/** One generation: who is in the group, in rank order, and why it formed. */
export interface Generation {
  generation: number;
  members: string[];
  reason: string;
  at: string;
}

/** A change of the group, as the JSON result reports it (book 3.4). */
export interface MembershipChange {
  at: string;
  from: number;
  to: number;
  reason: string;
  /** The generation this change formed; for a loss the group waits out (too few workers), the one that lost it. */
  generation: number;
}

/** Where a preempted job stopped: the chief's checkpoint at the agreed step boundary. */
export interface PreemptionPoint {
  checkpoint: string | null;
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
}
