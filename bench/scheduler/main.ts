// bench/scheduler: the pure scheduler on a simulated cluster in virtual time (no processes): 10,000 jobs over
// 1,000 queues in a cohort tree (a cohort per group of 10 users, weights 1–3; a cohort per user; 10 queues per
// user), gangs of 1–4 members, 1–8 cores each, promised time limits. Reports scheduling decisions per second of wall time spent in decide(), the
// fairness error (half the sum over users of |received share − ideal share| while every user still had work
// waiting: the fraction of the machine given to the wrong user) and utilisation. Anchors: Slurm documents
// ~500 jobs/s; Kueue's own test admitted 15,000 workloads in 351 s (≈ 43/s).
//   node dist/bench/scheduler/main.js   BENCH_SCHED_JOBS=10000 BENCH_SCHED_QUEUES=1000 BENCH_SCHED_HALF_LIFE=2h
//   (BENCH_SCHED_DEBUG=1 prints received/ideal per user by group weight, and how much a bias by weight explains)
import { type JobSpec, parseQueueConfig, Scheduler } from '../../src/scheduler/index.js';
import { report } from '../harness.js';

const JOBS = Number(process.env['BENCH_SCHED_JOBS'] ?? 10_000);
const QUEUES = Number(process.env['BENCH_SCHED_QUEUES'] ?? 1_000);
const USERS = 100;
const GROUPS = 10;
const CORES = 1_600;
const MEMORY = CORES * 4 * 2 ** 30;
/** Arrivals span the first hour and jobs run up to 100 minutes: steady state from 3 h on. */
const WARMUP_MS = 3 * 3_600_000;

function rng(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/**
 * The cohort tree: root → one cohort per group (fair-sharing weight 1, 2 or 3) → one cohort per user → the
 * user's 10 queues. A user's part is its group cohort's part over the group's users, however many of the
 * user's queues have work at the moment.
 */
function queueFile(): string {
  const perUser = QUEUES / USERS;
  const lines = ['cohorts:', '  - { name: root }'];
  for (let g = 0; g < GROUPS; g++)
    lines.push(`  - { name: c${g}, parentName: root, fairSharing: { weight: ${groupWeight(g)} } }`);
  for (let u = 0; u < USERS; u++)
    lines.push(
      `  - { name: c${Math.floor(u / (USERS / GROUPS))}-u${u}, parentName: c${Math.floor(u / (USERS / GROUPS))} }`,
    );
  lines.push('clusterQueues:');
  const nominal = CORES / QUEUES;
  for (let q = 0; q < QUEUES; q++) {
    const u = Math.floor(q / perUser);
    const cohort = `c${Math.floor(u / (USERS / GROUPS))}-u${u}`;
    lines.push(`  - { name: q${q}, cohort: ${cohort}, nominalQuota: { cores: ${nominal} } }`);
  }
  lines.push(
    'priorityClasses: [{ name: high, value: 100 }, { name: normal, value: 10 }]',
    'defaultPriorityClass: normal',
  );
  lines.push('groups:');
  for (let g = 0; g < GROUPS; g++) {
    const users = Array.from({ length: USERS / GROUPS }, (_, i) => `u${g * (USERS / GROUPS) + i}`);
    lines.push(`  - { name: g${g}, users: [${users.join(', ')}] }`);
  }
  lines.push(
    `admissionFairSharing: { usageHalfLifeTime: ${process.env['BENCH_SCHED_HALF_LIFE'] ?? '2h'} }`,
    'preemption: { minRunTime: 5m }',
  );
  return lines.join('\n');
}

const groupWeight = (g: number): number => 1 + (g % 3);

function workload(): { spec: JobSpec; durationMs: number }[] {
  const r = rng(42);
  const perUserQueues = QUEUES / USERS;
  return Array.from({ length: JOBS }, (_, i) => {
    const u = i % USERS;
    const durationMs = Math.round((10 + r() * 90) * 60_000);
    const count = r() < 0.2 ? 2 + Math.floor(r() * 3) : 1;
    const spec: JobSpec = {
      id: `j${i}`,
      user: `u${u}`,
      queue: `q${u * perUserQueues + Math.floor(r() * perUserQueues)}`,
      priorityClass: r() < 0.02 ? 'high' : undefined,
      gang: { count, perMember: { cores: 1 + Math.floor(r() * 8), memory: 2 ** 30 } },
      timeLimitMs: Math.round(durationMs * 1.2),
      checkpointable: true,
    };
    return { spec, durationMs };
  });
}

function main(): void {
  const s = new Scheduler(parseQueueConfig(queueFile(), 'bench queues'), { cores: CORES, memory: MEMORY });
  const jobs = workload();
  const byId = new Map(jobs.map((j) => [j.spec.id, j]));
  const ends: { at: number; id: string; gen: number }[] = [];
  const generation = new Map<string, number>();
  const received = new Map<string, number>();
  const backlog = new Map<string, number>();
  for (const { spec } of jobs) backlog.set(spec.user, (backlog.get(spec.user) ?? 0) + 1);
  let now = 0;
  let decideMs = 0;
  let decisions = 0;
  let busy = 0;
  let allBackloggedUntil: number | undefined;
  // Jobs arrive over the first simulated hour; the machine is oversubscribed ~10x, so every user has work waiting.
  const arrivals = jobs.map((j, i) => ({ at: Math.floor((i / JOBS) * 3_600_000), spec: j.spec }));
  let nextArrival = 0;
  const running = new Map<string, { since: number; cores: number; user: string }>();
  const account = (until: number): void => {
    for (const r of running.values()) {
      const d = (until - r.since) * r.cores;
      busy += d;
      // Fairness is measured in steady state: from when the jobs admitted on arrival (before anyone waited)
      // have ended, to when the first user runs out of waiting work.
      if (allBackloggedUntil === undefined && r.since >= WARMUP_MS)
        received.set(r.user, (received.get(r.user) ?? 0) + d);
      r.since = until;
    }
  };
  while (nextArrival < arrivals.length || running.size > 0) {
    ends.sort((a, b) => b.at - a.at);
    const t = Math.min(arrivals[nextArrival]?.at ?? Infinity, ends[ends.length - 1]?.at ?? Infinity);
    account(t);
    now = t;
    while (arrivals[nextArrival]?.at === now) s.submit(arrivals[nextArrival++]!.spec, now);
    while (ends.length > 0 && ends[ends.length - 1]!.at === now) {
      const { id, gen } = ends.pop()!;
      if (!running.has(id) || generation.get(id) !== gen) continue; // ended by a preemption before
      running.delete(id);
      s.finish(id, now);
      const user = byId.get(id)!.spec.user;
      backlog.set(user, backlog.get(user)! - 1);
      if (allBackloggedUntil === undefined && backlog.get(user) === 0 && nextArrival >= arrivals.length)
        allBackloggedUntil = now;
    }
    const t0 = performance.now();
    const ds = s.decide(now);
    decideMs += performance.now() - t0;
    decisions += ds.length;
    for (const d of ds) {
      if (d.kind === 'admit') {
        const j = byId.get(d.id)!;
        const gen = (generation.get(d.id) ?? 0) + 1;
        generation.set(d.id, gen);
        running.set(d.id, { since: now, cores: j.spec.gang.perMember.cores * d.members, user: j.spec.user });
        ends.push({ at: now + j.durationMs, id: d.id, gen });
      } else if (d.kind === 'preempt') {
        running.delete(d.id); // a checkpointing victim stops at once here; it resumes (from scratch, in this model)
        s.stopped(d.id, now);
      }
    }
  }
  const shares = idealShares(s, jobs);
  const total = [...received.values()].reduce((a, b) => a + b, 0);
  let tv = 0;
  let worst = 0;
  for (const [user, ideal] of shares) {
    const got = (received.get(user) ?? 0) / total;
    tv += Math.abs(got - ideal);
    worst = Math.max(worst, Math.abs(got - ideal) / ideal);
  }
  if (process.env['BENCH_SCHED_DEBUG']) debugReport(s, jobs, shares, received, total);
  report('scheduler', {
    command: 'node dist/bench/scheduler/main.js',
    jobs: JOBS,
    queues: QUEUES,
    users: USERS,
    groups: GROUPS,
    cores: CORES,
    halfLife: process.env['BENCH_SCHED_HALF_LIFE'] ?? '2h',
    decisions,
    decideSeconds: decideMs / 1000,
    decisionsPerSecond: Math.round(decisions / (decideMs / 1000)),
    anchors: { slurmJobsPerSecond: 500, kueueWorkloadsPerSecond: Math.round((15_000 / 351) * 10) / 10 },
    fairnessError: tv / 2,
    worstUserRelativeError: worst,
    fairnessWindowMinutes: [WARMUP_MS / 60_000, (allBackloggedUntil ?? now) / 60_000],
    utilisation: busy / (CORES * now),
    makespanHours: now / 3_600_000,
  });
}

/**
 * BENCH_SCHED_DEBUG: where the error comes from. Per group weight: mean received/ideal (a bias by weight shows
 * here) and the part of the error that bias alone explains; the job sizes against the users' ideal shares
 * (a job larger than its user's share is granularity no scheduler can smooth within one job).
 */
function debugReport(
  s: Scheduler,
  jobs: { spec: JobSpec; durationMs: number }[],
  shares: Map<string, number>,
  received: Map<string, number>,
  total: number,
): void {
  const byWeight = new Map<number, { users: string[]; ratios: number[] }>();
  for (const [i, g] of s.config.groups.entries())
    for (const u of g.users) {
      const c = byWeight.get(groupWeight(i)) ?? { users: [], ratios: [] };
      c.users.push(u.name);
      c.ratios.push((received.get(u.name) ?? 0) / total / shares.get(u.name)!);
      byWeight.set(groupWeight(i), c);
    }
  let biasOnly = 0;
  for (const [w, c] of [...byWeight].sort((a, b) => a[0] - b[0])) {
    const mean = c.ratios.reduce((a, b) => a + b, 0) / c.ratios.length;
    const mad = c.ratios.reduce((a, b) => a + Math.abs(b - mean), 0) / c.ratios.length;
    const ideal = shares.get(c.users[0]!)!;
    biasOnly += c.users.length * ideal * Math.abs(mean - 1);
    const sizes = jobs
      .filter((j) => c.users.includes(j.spec.user))
      .map((j) => j.spec.gang.count * j.spec.gang.perMember.cores);
    const over = sizes.filter((x) => x > ideal * CORES).length / sizes.length;
    console.error(
      `weight ${w}: ideal ${(ideal * CORES).toFixed(1)} cores/user; received/ideal mean ${mean.toFixed(3)}, ` +
        `mean |dev from class mean| ${mad.toFixed(3)}; jobs larger than the ideal share ${(over * 100).toFixed(0)}%`,
    );
    console.error(`  per user ${c.ratios.map((x) => x.toFixed(2)).join(' ')}`);
  }
  console.error(`error explained by the per-weight bias alone: ${((biasOnly / 2) * 100).toFixed(2)}%`);
}

/**
 * Each user's ideal share with every user active, from the queue file's cohort tree alone: a node's part is
 * its weight over its siblings' (all active); a user's share is the sum of its queues' parts (one user per
 * queue here, so groups within a queue do not split it further).
 */
function idealShares(s: Scheduler, jobs: { spec: JobSpec }[]): Map<string, number> {
  const { cohorts, clusterQueues } = s.config;
  const parentOf = new Map<string, string | undefined>(cohorts.map((c) => [c.name, c.parentName]));
  const weightOf = new Map<string, number>(cohorts.map((c) => [c.name, c.weight]));
  const siblings = new Map<string | undefined, number>();
  const node = (kind: string, name: string, parent: string | undefined, w: number): void => {
    siblings.set(parent, (siblings.get(parent) ?? 0) + w);
    weightOf.set(`${kind}${name}`, w);
  };
  for (const c of cohorts) node('', c.name, c.parentName, c.weight);
  for (const q of clusterQueues) node('queue:', q.name, q.cohort, q.weight);
  const part = (name: string, w: number, parent: string | undefined): number =>
    (w / siblings.get(parent)!) *
    (parent === undefined ? 1 : part(parent, weightOf.get(parent)!, parentOf.get(parent)));
  const queueShare = new Map(clusterQueues.map((q) => [q.name, part(q.name, q.weight, q.cohort)]));
  const out = new Map<string, number>();
  const seen = new Set<string>();
  for (const { spec } of jobs) {
    if (seen.has(spec.queue)) continue;
    seen.add(spec.queue);
    out.set(spec.user, (out.get(spec.user) ?? 0) + queueShare.get(spec.queue)!);
  }
  return out;
}

main();
