// The queue file: Kueue's vocabulary (Cohort, ClusterQueue, LocalQueue, WorkloadPriorityClass, fairSharing),
// flattened into one YAML document so the same names become Kueue objects on a cluster. Parsed and checked
// once here; the scheduler trusts the typed result.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SchedulerError } from './errors.js';
import { crossCheck } from './config-check.js';
import { parseCores, parseDuration, parseMemory } from './quantity.js';
import type { ClusterQueueConfig, CohortConfig, Quota, QueueConfig } from './config-types.js';

export type { ClusterQueueConfig, CohortConfig, Quota, QueueConfig };

/** Defaults documented once: the values a queue file may leave out. */
export const CONFIG_DEFAULTS = {
  minRunTime: '30s',
  gracePeriod: '30s',
  usageHalfLifeTime: '10m',
  weight: 1,
} as const;

const name = z
  .string({ required_error: 'is required: give a name' })
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase DNS-1123 name (letters, digits, "-", ".")');
const weight = z.number().nonnegative('must be ≥ 0 (0 means "always last")').default(CONFIG_DEFAULTS.weight);
const fairSharing = z.object({ weight }).strict().default({});
const cores = z
  .union([z.number(), z.string()])
  .transform((v, ctx) =>
    checked(parseCores(v), ctx, `cores "${v}" is not a number or millicores like "500m"`),
  );
const memory = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => checked(parseMemory(v), ctx, `memory "${v}" is not bytes or a quantity like "4Gi"`));
const duration = z
  .union([z.number(), z.string()])
  .transform((v, ctx) =>
    checked(parseDuration(v), ctx, `"${v}" is not a duration like "30s", "10m" or "1h"`),
  );
const quota = z.object({ cores: cores.optional(), memory: memory.optional() }).strict();

function checked(v: number | undefined, ctx: z.RefinementCtx, message: string): number {
  if (v === undefined || !Number.isFinite(v) || v < 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${message}, ≥ 0` });
    return z.NEVER;
  }
  return v;
}

const fileSchema = z
  .object({
    apiVersion: z.string().optional(),
    kind: z.literal('QueueConfig', { errorMap: () => ({ message: 'must be "QueueConfig"' }) }).optional(),
    cohorts: z.array(z.object({ name, parentName: name.optional(), fairSharing }).strict()).default([]),
    clusterQueues: z
      .array(
        z
          .object({
            name,
            cohort: name.optional(),
            nominalQuota: quota.optional(),
            borrowingLimit: quota.optional(),
            lendingLimit: quota.optional(),
            fairSharing,
            preemption: z
              .object({ reclaimWithinCohort: z.enum(['Never', 'LowerPriority', 'Any']).default('Never') })
              .strict()
              .default({}),
          })
          .strict(),
      )
      .min(1, 'needs at least one queue: add `- name: default`')
      .default([]),
    localQueues: z.array(z.object({ name, clusterQueue: name }).strict()).default([]),
    priorityClasses: z
      .array(
        z
          .object({ name, value: z.number().int('must be an integer'), description: z.string().optional() })
          .strict(),
      )
      .default([]),
    defaultPriorityClass: name.optional(),
    groups: z
      .array(
        z
          .object({
            name,
            weight,
            users: z.array(
              z.union([z.string().min(1), z.object({ name: z.string().min(1), weight }).strict()]),
            ),
          })
          .strict(),
      )
      .default([]),
    preemption: z
      .object({
        minRunTime: duration.default(CONFIG_DEFAULTS.minRunTime),
        gracePeriod: duration.default(CONFIG_DEFAULTS.gracePeriod),
      })
      .strict()
      .default({}),
    admissionFairSharing: z
      .object({ usageHalfLifeTime: duration.default(CONFIG_DEFAULTS.usageHalfLifeTime) })
      .strict()
      .default({}),
  })
  .strict();

type File = z.infer<typeof fileSchema>;

/** The configuration when none was applied: one queue `default` with the whole machine; high/medium/low. */
export function defaultQueueConfig(): QueueConfig {
  return parseQueueConfig(
    [
      'clusterQueues: [{ name: default }]',
      'priorityClasses: [{ name: high, value: 1000 }, { name: medium, value: 500 }, { name: low, value: 100 }]',
      'defaultPriorityClass: medium',
    ].join('\n'),
    '(default)',
  );
}

/** Parses and validates a queue file; errors name the YAML path and how to fix it. */
export function parseQueueConfig(text: string, source = 'queue file'): QueueConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw invalid(source, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const r = fileSchema.safeParse(doc ?? {});
  if (!r.success) {
    throw invalid(
      source,
      r.error.issues.map(
        (i) => `${pathOf(i.path)}: ${i.code === 'unrecognized_keys' ? unknownKeys(i) : i.message}`,
      ),
    );
  }
  const config = toConfig(r.data);
  const problems = crossCheck(config);
  if (problems.length > 0) throw invalid(source, problems);
  return config;
}

function unknownKeys(i: z.ZodIssue): string {
  const keys = (i as z.ZodIssue & { keys: string[] }).keys;
  return `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}: remove or fix the spelling`;
}

function pathOf(path: (string | number)[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function invalid(source: string, problems: string[]): SchedulerError {
  return new SchedulerError(
    'SCHED_CONFIG_INVALID',
    `${source} is not a valid queue configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
  );
}

function toConfig(f: File): QueueConfig {
  return {
    cohorts: f.cohorts.map((c) => ({ name: c.name, parentName: c.parentName, weight: c.fairSharing.weight })),
    clusterQueues: f.clusterQueues.map((q) => ({
      name: q.name,
      cohort: q.cohort,
      nominalQuota: q.nominalQuota,
      borrowingLimit: q.borrowingLimit,
      lendingLimit: q.lendingLimit,
      weight: q.fairSharing.weight,
      reclaimWithinCohort: q.preemption.reclaimWithinCohort,
    })),
    localQueues: f.localQueues,
    priorityClasses: f.priorityClasses,
    defaultPriorityClass: f.defaultPriorityClass,
    groups: f.groups.map((g) => ({
      name: g.name,
      weight: g.weight,
      users: g.users.map((u) => (typeof u === 'string' ? { name: u, weight: CONFIG_DEFAULTS.weight } : u)),
    })),
    preemption: { minRunTimeMs: f.preemption.minRunTime, gracePeriodMs: f.preemption.gracePeriod },
    usageHalfLifeMs: f.admissionFairSharing.usageHalfLifeTime,
  };
}
