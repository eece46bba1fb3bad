// Rules across the entries of a queue file, checked after its shape: unique names, references that resolve,
// a cohort tree without cycles, limits that make sense, one group per user.
import type { ClusterQueueConfig, CohortConfig, QueueConfig } from './config-types.js';

/** Rules across entries: unique names, references that resolve, a cohort tree without cycles, sane limits. */
export function crossCheck(c: QueueConfig): string[] {
  const out: string[] = [];
  const dup = (list: { name: string }[], where: string): void => {
    const seen = new Set<string>();
    list.forEach((e, i) => {
      if (seen.has(e.name)) out.push(`${where}[${i}].name: "${e.name}" is used twice: names must be unique`);
      seen.add(e.name);
    });
  };
  dup(c.cohorts, 'cohorts');
  dup([...c.clusterQueues, ...c.localQueues], 'clusterQueues/localQueues');
  dup(c.priorityClasses, 'priorityClasses');
  dup(c.groups, 'groups');
  const cohorts = new Map(c.cohorts.map((x) => [x.name, x]));
  out.push(...cohortProblems(c));
  const queues = new Set(c.clusterQueues.map((q) => q.name));
  c.clusterQueues.forEach((q, i) => out.push(...queueProblems(q, i, cohorts)));
  c.localQueues.forEach((l, i) => {
    if (!queues.has(l.clusterQueue))
      out.push(`localQueues[${i}].clusterQueue: no clusterQueue "${l.clusterQueue}": add it or fix the name`);
  });
  if (c.defaultPriorityClass && !c.priorityClasses.some((p) => p.name === c.defaultPriorityClass))
    out.push(
      `defaultPriorityClass: no priority class "${c.defaultPriorityClass}": add it under priorityClasses`,
    );
  const owner = new Map<string, string>();
  c.groups.forEach((g, i) =>
    g.users.forEach((u, j) => {
      const prev = owner.get(u.name);
      if (prev)
        out.push(
          `groups[${i}].users[${j}]: user "${u.name}" is already in group "${prev}": a user has one group`,
        );
      owner.set(u.name, g.name);
    }),
  );
  return out;
}

function queueProblems(q: ClusterQueueConfig, i: number, cohorts: Map<string, CohortConfig>): string[] {
  const out: string[] = [];
  const at = `clusterQueues[${i}]`;
  if (q.cohort && !cohorts.has(q.cohort))
    out.push(`${at}.cohort: no cohort "${q.cohort}": add it under cohorts`);
  if (!q.cohort && q.borrowingLimit)
    out.push(
      `${at}.borrowingLimit: a queue outside a cohort has nobody to borrow from: set cohort or remove it`,
    );
  if (!q.cohort && q.lendingLimit)
    out.push(`${at}.lendingLimit: a queue outside a cohort has nobody to lend to: set cohort or remove it`);
  for (const r of ['cores', 'memory'] as const) {
    const lend = q.lendingLimit?.[r];
    const nominal = q.nominalQuota?.[r];
    if (lend !== undefined && nominal !== undefined && lend > nominal)
      out.push(`${at}.lendingLimit.${r}: ${lend} is more than nominalQuota.${r} (${nominal}): lower it`);
  }
  return out;
}

/** Parent references that resolve, and a tree (no cycles). */
function cohortProblems(c: QueueConfig): string[] {
  const out: string[] = [];
  const cohorts = new Map(c.cohorts.map((x) => [x.name, x]));
  c.cohorts.forEach((x, i) => {
    if (x.parentName && !cohorts.has(x.parentName))
      out.push(
        `cohorts[${i}].parentName: no cohort "${x.parentName}": add it under cohorts or remove parentName`,
      );
    const seen = new Set<string>();
    for (
      let at: CohortConfig | undefined = x;
      at;
      at = at.parentName ? cohorts.get(at.parentName) : undefined
    ) {
      if (seen.has(at.name)) {
        out.push(`cohorts[${i}].parentName: the cohort tree has a cycle through "${x.name}": make it a tree`);
        break;
      }
      seen.add(at.name);
    }
  });
  return out;
}
