/** Cores (fractions allowed) and memory in bytes: what a job member asks for and what a machine has. */
export interface Resources {
  cores: number;
  memory: number;
}

/** Slack for float sums of fractional cores. */
const EPS = 1e-9;

export const ZERO: Resources = Object.freeze({ cores: 0, memory: 0 });

export const add = (a: Resources, b: Resources): Resources => ({
  cores: a.cores + b.cores,
  memory: a.memory + b.memory,
});

export const sub = (a: Resources, b: Resources): Resources => ({
  cores: a.cores - b.cores,
  memory: a.memory - b.memory,
});

export const times = (r: Resources, n: number): Resources => ({ cores: r.cores * n, memory: r.memory * n });

/** True when `r` fits in `free` on every resource. */
export const fits = (r: Resources, free: Resources): boolean =>
  r.cores <= free.cores + EPS && r.memory <= free.memory + EPS;

export const isZero = (r: Resources): boolean => r.cores <= 0 && r.memory <= 0;

/**
 * Dominant-resource share (DRF, Kueue's DRS): the largest fraction of the capacity that `r` takes on any
 * one resource. A job of 1 core and 8 GiB on a 4-core 16 GiB machine has a dominant share of 0.5 (memory).
 */
export function dominantShare(r: Resources, capacity: Resources): number {
  const c = capacity.cores > 0 ? r.cores / capacity.cores : 0;
  const m = capacity.memory > 0 ? r.memory / capacity.memory : 0;
  return Math.max(c, m);
}

/** For messages: "2 cores", "1 core + 1.5 GiB", "512 MiB"; negative parts count as zero. */
export function describe(r: Resources): string {
  const parts: string[] = [];
  const cores = Math.max(0, r.cores);
  const memory = Math.max(0, r.memory);
  if (cores > 0 || memory <= 0) parts.push(`${+cores.toFixed(3)} ${cores === 1 ? 'core' : 'cores'}`);
  if (memory > 0) {
    const gib = memory / 2 ** 30;
    parts.push(gib >= 1 ? `${+gib.toFixed(2)} GiB` : `${+(memory / 2 ** 20).toFixed(1)} MiB`);
  }
  return parts.join(' + ');
}
