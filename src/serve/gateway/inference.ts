// What the gateway does with a model path: plain forwarding to the model's replica group, sharding a large
// request across replicas (book 4.3), or fanning out to every model of the ensemble and averaging (5.2).
import type { IncomingMessage } from 'node:http';
import { readBody } from '../body.js';
import { badRequest, ServeError } from '../errors.js';
import { V1_MODEL_PATH, V2_MODEL_PATH } from '../paths.js';
import { argmaxLabels, averageFlat, averageRows } from './ensemble.js';
import type { ReplicaPool } from './pool.js';
import { forward, type Forward, type ProxyOptions, type Upstream } from './proxy.js';
import { merge, partition, tensorRows } from './shard.js';

export interface Reply {
  status: number;
  body: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Target {
  model: string;
  /** True for :predict and /infer (rate-limited). */
  infer: boolean;
  /** `signal` aborts when the client has gone: the forwarded requests are cancelled with it. */
  run: (req: IncomingMessage, key: string, signal?: AbortSignal) => Promise<Reply>;
}

export interface InferenceOptions {
  pools: Map<string, ReplicaPool>;
  ensembleName: string | undefined;
  shardThreshold: number | undefined;
  shards: number | undefined;
  maxBody: number;
  proxy: ProxyOptions;
  onSharded: () => void;
}

type Json = Record<string, unknown>;
type Kind = 'v1' | 'v2';

/** Routes model paths to replica groups. */
export class Inference {
  readonly ensembleName: string | undefined;
  constructor(private readonly o: InferenceOptions) {
    this.ensembleName = o.ensembleName;
  }

  /** The handler for a request path (404/405 when nothing here serves it). */
  target(method: string, url: string): Target {
    const path = url.split('?')[0] as string;
    const m1 = V1_MODEL_PATH.exec(path);
    const m = m1 ?? V2_MODEL_PATH.exec(path);
    if (!m) throw this.notFound(`no endpoint ${path}`);
    const kind: Kind = m1 ? 'v1' : 'v2';
    const [, rawName, version, action] = m;
    const name = decode(rawName as string);
    const infer = (kind === 'v1' && action === ':predict') || (kind === 'v2' && action === '/infer');
    if (infer && method !== 'POST')
      throw new ServeError('SERVE_METHOD_NOT_ALLOWED', `${path} accepts POST, not ${method}`);
    if (name === this.ensembleName) {
      if (version) throw this.notFound(`the ensemble "${name}" has no versions`);
      return infer
        ? { model: name, infer, run: (req, key, signal) => this.ensemble(kind, req, key, signal) }
        : { model: name, infer, run: async () => this.ensembleInfo(name) };
    }
    const pool = this.o.pools.get(name);
    if (!pool) throw this.notFound(`model "${name}" is not served here`);
    if (!infer)
      return {
        model: name,
        infer,
        run: async (_req, key, signal) => reply(await this.call(pool, { method, path: url, key, signal })),
      };
    return { model: name, infer, run: (req, key, signal) => this.infer(pool, kind, url, req, key, signal) };
  }

  private notFound(what: string): ServeError {
    const names = [...this.o.pools.keys(), ...(this.ensembleName ? [this.ensembleName] : [])];
    return new ServeError(
      'SERVE_NOT_FOUND',
      `${what}; this gateway serves ${names.map((n) => `"${n}"`).join(', ')} at /v1/models/NAME:predict and /v2/models/NAME/infer`,
    );
  }

  private async call(pool: ReplicaPool, f: Forward): Promise<Upstream> {
    pool.enter();
    try {
      return await forward(pool, f, this.o.proxy);
    } finally {
      pool.leave();
    }
  }

  private async infer(
    pool: ReplicaPool,
    kind: Kind,
    path: string,
    req: IncomingMessage,
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<Reply> {
    const body = await readBody(req, this.o.maxBody);
    const f: Forward = { method: 'POST', path, body, contentType: req.headers['content-type'], key, signal };
    const threshold = this.o.shardThreshold;
    if (threshold !== undefined && body.length > 0) {
      const json = tryJson(body);
      const count = json ? examples(kind, json) : 0;
      const shards = this.o.shards ?? Math.max(2, pool.ready().length);
      if (json && count > threshold) {
        this.o.onSharded();
        return kind === 'v1'
          ? this.shardV1(pool, f, json, shards)
          : this.shardV2(pool, f, json, count, shards);
      }
    }
    return reply(await this.call(pool, f));
  }

  private async shardV1(pool: ReplicaPool, f: Forward, json: Json, shards: number): Promise<Reply> {
    const instances = json['instances'] as unknown[];
    const parts = partition(instances.length, shards);
    const answers = await Promise.all(
      parts.map((idx, k) =>
        this.call(pool, {
          ...f,
          key: `${f.key}#${k}`,
          body: jsonBuf({ ...json, instances: idx.map((i) => instances[i]) }),
        }),
      ),
    );
    const bad = answers.find((a) => a.status !== 200);
    if (bad) return reply(bad);
    const preds = answers.map(
      (a) => (JSON.parse(a.body.toString()) as { predictions: unknown[] }).predictions,
    );
    return {
      status: 200,
      body: { predictions: merge(instances.length, parts, preds) },
      headers: { 'x-distml-shards': String(parts.length) },
    };
  }

  private async shardV2(
    pool: ReplicaPool,
    f: Forward,
    json: Json,
    count: number,
    shards: number,
  ): Promise<Reply> {
    const inputs = json['inputs'] as { shape: number[]; data: unknown[] }[];
    const rows = inputs.map((t) => tensorRows(t.shape, t.data));
    const parts = partition(count, shards);
    const answers = await Promise.all(
      parts.map((idx, k) => {
        const sub = inputs.map((t, n) => ({
          ...t,
          shape: [idx.length, ...t.shape.slice(1)],
          data: idx.flatMap((i) => (rows[n] as unknown[][])[i] as unknown[]),
        }));
        return this.call(pool, { ...f, key: `${f.key}#${k}`, body: jsonBuf({ ...json, inputs: sub }) });
      }),
    );
    const bad = answers.find((a) => a.status !== 200);
    if (bad) return reply(bad);
    const docs = answers.map(
      (a) =>
        JSON.parse(a.body.toString()) as Json & {
          outputs: { name: string; shape: number[]; data: unknown[] }[];
        },
    );
    const first = docs[0] as (typeof docs)[number];
    const outputs = first.outputs.map((o, n) => {
      const perShard = docs.map((d) => {
        const t = d.outputs[n] as { shape: number[]; data: unknown[] };
        return tensorRows(t.shape, t.data);
      });
      return { ...o, shape: [count, ...o.shape.slice(1)], data: merge(count, parts, perShard).flat() };
    });
    return { status: 200, body: { ...first, outputs }, headers: { 'x-distml-shards': String(parts.length) } };
  }

  private async ensemble(
    kind: Kind,
    req: IncomingMessage,
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<Reply> {
    const json = tryJson(await readBody(req, this.o.maxBody));
    if (!json) throw badRequest('request body is not a JSON object');
    const members = [...this.o.pools.values()];
    const { outputs: wanted, ...rest } = json;
    const body = jsonBuf(kind === 'v1' ? json : rest);
    const answers = await Promise.all(
      members.map((p) => {
        const path =
          kind === 'v1'
            ? `/v1/models/${encodeURIComponent(p.model)}:predict`
            : `/v2/models/${encodeURIComponent(p.model)}/infer`;
        return this.call(p, { method: 'POST', path, body, contentType: 'application/json', key, signal });
      }),
    );
    const bad = answers.find((a) => a.status !== 200);
    if (bad) return reply(bad);
    const docs = answers.map((a) => JSON.parse(a.body.toString()) as Json);
    return {
      status: 200,
      body: kind === 'v1' ? this.fanInV1(members, docs) : this.fanInV2(members, docs, json, wanted),
    };
  }

  private fanInV1(members: ReplicaPool[], docs: Json[]): Json {
    const field = 'predictions' in (docs[0] as Json) ? 'predictions' : 'outputs';
    const each = docs.map((d) => d[field] as number[][]);
    return {
      [field]: averageRows(each),
      models: Object.fromEntries(members.map((p, i) => [p.model, each[i]])),
    };
  }

  private fanInV2(members: ReplicaPool[], docs: Json[], json: Json, wanted: unknown): Json {
    type Out = { name: string; shape: number[]; datatype: string; data: number[] };
    const probs = docs.map((d) => (d['outputs'] as Out[]).find((o) => o.name === 'probabilities') as Out);
    const avg = averageFlat(probs.map((p) => p.data));
    const shape = (probs[0] as Out).shape;
    const classNames =
      ((docs[0] as Json)['parameters'] as { class_names?: string[] } | undefined)?.class_names ?? [];
    const names = Array.isArray(wanted)
      ? wanted.map((w) => (w as { name?: string }).name)
      : ['probabilities', 'class'];
    const outputs: Json[] = [];
    if (names.includes('probabilities'))
      outputs.push({ name: 'probabilities', shape, datatype: 'FP32', data: avg });
    if (names.includes('class'))
      outputs.push({
        name: 'class',
        shape: [shape[0]],
        datatype: 'BYTES',
        data: argmaxLabels(avg, shape[1] ?? 1, classNames),
      });
    return {
      model_name: this.ensembleName,
      model_version: '1',
      ...(json['id'] !== undefined ? { id: json['id'] } : {}),
      outputs,
      parameters: {
        class_names: classNames,
        models: Object.fromEntries(members.map((p, i) => [p.model, (probs[i] as Out).data])),
      },
    };
  }

  private ensembleInfo(name: string): Reply {
    const members = [...this.o.pools.values()];
    const ready = members.every((p) => p.available);
    return {
      status: ready ? 200 : 503,
      body: { name, platform: 'distml-ensemble', models: members.map((p) => p.model), ready },
    };
  }
}

function reply(u: Upstream): Reply {
  return {
    status: u.status,
    body: u.body,
    contentType: u.contentType,
    // A busy replica's Retry-After reaches the client as it was sent.
    headers: {
      'x-distml-replica': String(u.replica),
      ...(u.retryAfter ? { 'retry-after': u.retryAfter } : {}),
    },
  };
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const jsonBuf = (v: unknown) => Buffer.from(JSON.stringify(v));

function tryJson(buf: Buffer): Json | undefined {
  try {
    const v = JSON.parse(buf.toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** How many examples a request carries (0 when its shape is not one the gateway can split). */
function examples(kind: Kind, json: Json): number {
  if (kind === 'v1') return Array.isArray(json['instances']) ? json['instances'].length : 0;
  const inputs = json['inputs'];
  if (!Array.isArray(inputs) || inputs.length === 0) return 0;
  const n = (inputs[0] as { shape?: unknown }).shape;
  const count = Array.isArray(n) && typeof n[0] === 'number' ? n[0] : 0;
  const ok = inputs.every(
    (t: { shape?: unknown; data?: unknown }) =>
      Array.isArray(t.shape) && t.shape[0] === count && Array.isArray(t.data),
  );
  return ok ? count : 0;
}
