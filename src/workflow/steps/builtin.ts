import type { BuiltinKind } from '../spec/schema.js';

/** What a built-in step produced, read from the JSON document its command printed. */
export interface BuiltinOutputs {
  parameters: Record<string, string>;
  metrics: Record<string, number>;
  artifacts: { kind: string; uri: string; digest?: string }[];
}

/** A built-in step kind: a thin mapping of `with:` onto a distml command and of its JSON result onto outputs. */
export interface BuiltinSpec {
  /** The distml command words. */
  command: string[];
  /** A `with:` key passed as the positional argument instead of a flag. */
  positional?: string;
  /** Output parameters every step of this kind has. */
  outputNames: string[];
  /** Cores taken from the pool unless the template says otherwise. */
  defaultCores: number;
  /** Long-running: ready at its first stdout line, stopped when the run ends. */
  daemon?: boolean;
  /** Flags filled in when `with:` omits them (the step's own artifact dir for outputs). */
  defaults?: (ctx: { artifactDir: string }) => Record<string, string>;
  read(result: Record<string, unknown>): BuiltinOutputs;
  /**
   * The processes the step runs at once, from its `with:` values and the cores the step was given: what the
   * scheduler reserves all-or-nothing (a gang). Absent: one process on the step's cores.
   */
  gang?: (withValues: Record<string, string | string[]>, stepCores: number) => GangShape;
}

/**
 * A step's gang (issue 13): `workers` processes of `coresPerWorker` cores (each also needs its share of
 * memory), plus `parameterServers` of `coresPerServer`; an elastic training may run with any count of workers
 * in [elastic.min, elastic.max] (it starts with `workers`). A scheduler JobSpec takes gang.count = workers
 * (or elastic.max when it may grow), perMember.cores = coresPerWorker.
 */
export interface GangShape {
  workers: number;
  coresPerWorker: number;
  parameterServers: number;
  coresPerServer: number;
  elastic?: { min: number; max: number };
}

/** The gang of a `distml train` step: its --workers/--min-workers/--max-workers/--threads/--ps flags. */
export function trainGang(withValues: Record<string, string | string[]>, stepCores: number): GangShape {
  const int = (k: string): number | undefined => {
    const v = withValues[k];
    const n = Number(Array.isArray(v) ? v[0] : v);
    return v === undefined || !Number.isInteger(n) || n < 1 ? undefined : n;
  };
  const workers = int('workers') ?? int('min-workers') ?? 1;
  const min = int('min-workers') ?? workers;
  const max = int('max-workers') ?? Math.max(workers, min);
  const ps = withValues['strategy'] === 'parameter-server';
  return {
    workers,
    // The launcher's own rule: --threads, else the step's cores split evenly (at least one each).
    coresPerWorker: int('threads') ?? Math.max(1, Math.floor(Math.max(1, stepCores) / workers)),
    parameterServers: ps ? (int('ps') ?? 1) : 0,
    coresPerServer: ps ? 1 : 0,
    ...(min !== workers || max !== workers ? { elastic: { min, max } } : {}),
  };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v ?? null));
const field = (o: unknown, k: string): unknown =>
  o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined;

function metricsOf(pairs: Record<string, unknown>): Record<string, number> {
  const m: Record<string, number> = {};
  for (const [k, v] of Object.entries(pairs)) if (num(v) !== undefined) m[k] = v as number;
  return m;
}

export const BUILTINS: Record<BuiltinKind, BuiltinSpec> = {
  ingest: {
    command: ['data', 'prepare'],
    outputNames: ['fingerprint', 'trainCount', 'testCount'],
    defaultCores: 1,
    read: (r) => {
      const trainCount = field(r['train'], 'count');
      const testCount = field(r['test'], 'count');
      return {
        parameters: {
          fingerprint: str(r['fingerprint']),
          trainCount: str(trainCount),
          testCount: str(testCount),
        },
        metrics: metricsOf({ seconds: r['seconds'], trainCount, testCount }),
        artifacts: [
          {
            kind: 'dataset',
            uri: `dataset:fashion-mnist@${str(r['fingerprint'])}`,
            digest: str(r['fingerprint']),
          },
        ],
      };
    },
  },
  train: {
    command: ['train'],
    outputNames: ['path', 'model', 'testAccuracy', 'params'],
    defaultCores: 1,
    defaults: ({ artifactDir }) => ({ out: artifactDir }),
    gang: trainGang,
    read: (r) => ({
      parameters: {
        path: str(r['path']),
        model: str(r['model']),
        testAccuracy: str(r['testAccuracy']),
        params: str(r['params']),
      },
      metrics: metricsOf({ testAccuracy: r['testAccuracy'], params: r['params'], seconds: r['seconds'] }),
      artifacts: typeof r['path'] === 'string' ? [{ kind: 'model', uri: r['path'] }] : [],
    }),
  },
  evaluate: {
    command: ['evaluate'],
    positional: 'path',
    outputNames: ['testAccuracy', 'testLoss', 'model', 'path'],
    defaultCores: 1,
    read: (r) => ({
      parameters: {
        testAccuracy: str(r['testAccuracy']),
        testLoss: str(r['testLoss']),
        model: str(r['model']),
        path: str(r['path']),
      },
      metrics: metricsOf({ testAccuracy: r['testAccuracy'], testLoss: r['testLoss'], seconds: r['seconds'] }),
      artifacts: [],
    }),
  },
  select: {
    command: ['select'],
    outputNames: ['best', 'bestAccuracy', 'published', 'version'],
    defaultCores: 1,
    read: (r) => {
      const candidates = Array.isArray(r['candidates']) ? (r['candidates'] as Record<string, unknown>[]) : [];
      const best = candidates.find((c) => c['rank'] === 1);
      const published = Array.isArray(r['published']) ? (r['published'] as Record<string, unknown>[]) : [];
      return {
        parameters: {
          best: str(best?.['path'] ?? ''),
          bestAccuracy: str(best?.['accuracy'] ?? ''),
          published: JSON.stringify(published),
          version: str(published[0]?.['version'] ?? ''),
        },
        metrics: metricsOf({ bestAccuracy: best?.['accuracy'], seconds: r['seconds'] }),
        artifacts: published.map((p) => ({ kind: 'model-version', uri: str(p['path']) })),
      };
    },
  },
  predict: {
    command: ['predict'],
    outputNames: ['correct', 'count'],
    defaultCores: 0,
    read: (r) => {
      const rows = Array.isArray(r['rows']) ? r['rows'] : [];
      return {
        parameters: { correct: str(r['correct']), count: str(rows.length) },
        metrics: metricsOf({ correct: r['correct'], count: rows.length, seconds: r['seconds'] }),
        artifacts: [],
      };
    },
  },
  serve: {
    command: ['serve'],
    outputNames: ['url'],
    defaultCores: 0,
    daemon: true,
    defaults: () => ({ port: '0' }),
    read: (r) => ({ parameters: { url: str(r['url']) }, metrics: {}, artifacts: [] }),
  },
};

/**
 * The argv after `distml` for a built-in step: `with:` keys become `--key value` flags (a list, or a string
 * holding a JSON list such as a fan-in result, repeats the flag), `true` becomes a bare `--key`.
 */
export function builtinArgv(
  spec: BuiltinSpec,
  withValues: Record<string, string | string[]>,
  artifactDir: string,
): string[] {
  const merged: Record<string, string | string[]> = {
    ...(spec.defaults?.({ artifactDir }) ?? {}),
    ...withValues,
  };
  const argv = [...spec.command];
  for (const [key, raw] of Object.entries(merged)) {
    const values = expandList(raw);
    if (key === spec.positional) {
      argv.push(...values);
      continue;
    }
    if (values.length === 1 && values[0] === 'false') continue;
    if (values.length === 1 && values[0] === 'true') {
      argv.push(`--${key}`);
      continue;
    }
    for (const v of values) argv.push(`--${key}=${v}`);
  }
  return [...argv, '--json'];
}

function expandList(raw: string | string[]): string[] {
  if (Array.isArray(raw)) return raw.flatMap(expandList);
  if (raw.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (Array.isArray(parsed)) return parsed.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
    } catch {
      // not JSON: a plain value that happens to start with "["
    }
  }
  return [raw];
}
