// Kubernetes-style quantities and durations in the queue file: `cores: 500m`, `memory: 4Gi`, `gracePeriod: 30s`.

const MEMORY_SUFFIX: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Cores: a number, or millicores as Kubernetes writes them ("500m"). Undefined when malformed. */
export function parseCores(v: number | string): number | undefined {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(v.trim());
  if (!m) return undefined;
  return m[2] === 'm' ? Number(m[1]) / 1000 : Number(m[1]);
}

/** Bytes: a number, or a Kubernetes quantity ("4Gi", "512Mi", "1G"). Undefined when malformed. */
export function parseMemory(v: number | string): number | undefined {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(v.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (MEMORY_SUFFIX[m[2] ?? ''] ?? 1));
}

const DURATION_UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds from a Go-style duration ("30s", "10m", "1h30m", "250ms") or a number of seconds. */
export function parseDuration(v: number | string): number | undefined {
  if (typeof v === 'number') return v * 1000;
  const text = v.trim();
  if (!/^(\d+(?:\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    ms += Number(m[1]) * (DURATION_UNIT[m[2]!] ?? 0);
  return ms;
}
