// URL → handler for one served model: TF Serving REST (KServe V1), Open Inference Protocol (KServe V2),
// health and Prometheus metrics. Handlers return a Reply; the server owns HTTP details (bodies, status codes).
import { ServeError } from './errors.js';
import { FIXED_PATHS, METRICS_CONTENT_TYPE, SERVER_VERSION, V1_MODEL_PATH, V2_MODEL_PATH } from './paths.js';
import type { ImageJob } from './inputs/decode.js';
import { inferResponse, modelMetadata, parseInfer } from './protocols/open-inference.js';
import { metadataResponse, parsePredict, predictResponse, statusResponse } from './protocols/tf-serving.js';
import type { LoadedVersion, ModelVersions } from './versions.js';

export type Api = 'v1' | 'v2' | 'health' | 'metrics' | 'other';

export interface Reply {
  status: number;
  /** JSON-encoded unless `text` is set. */
  body: unknown;
  text?: { contentType: string };
  headers?: Record<string, string>;
}

export interface RouteContext {
  versions: ModelVersions;
  /** Aborts when the client goes away: queued work for it is dropped. */
  signal: AbortSignal;
  /** Decodes a request's images into its inputs, within the per-request decode budget (400/413). */
  decode: (images: ImageJob[], inputs: Float32Array) => Promise<void>;
  /** False before the first version is loaded and while shutting down. */
  ready: () => boolean;
  metrics: () => string;
  /** Reads and parses the request body as JSON (400/413 on failure). */
  json: () => Promise<unknown>;
}

export interface Route {
  api: Api;
  run: (ctx: RouteContext) => Promise<Reply>;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });

/** Finds the handler for a request, or throws 404/405 with a message naming what exists. */
export function route(method: string, path: string, servedName: string): Route {
  const get = (api: Api, run: Route['run']): Route => only('GET', method, path, { api, run });
  if (path === FIXED_PATHS.metrics)
    return get('metrics', async (c) => ({
      status: 200,
      body: c.metrics(),
      text: { contentType: METRICS_CONTENT_TYPE },
    }));
  if (path === FIXED_PATHS.live) return get('health', async () => ok({ live: true }));
  if (path === FIXED_PATHS.ready)
    return get('health', async (c) => ok({ ready: c.ready() }, c.ready() ? 200 : 503));
  if (path === FIXED_PATHS.server)
    return get('v2', async () => ok({ name: 'distml', version: SERVER_VERSION, extensions: [] }));
  let m = V1_MODEL_PATH.exec(path);
  if (m) {
    const [, name, version, action] = m;
    checkName(name as string, servedName);
    if (action === ':predict') {
      return only('POST', method, path, { api: 'v1', run: (c) => predict(c, version) });
    }
    if (action?.startsWith(':')) {
      throw new ServeError('SERVE_NOT_FOUND', `${action} is not supported; this model answers :predict`);
    }
    if (action === '/metadata') return get('v1', async (c) => v1Metadata(c, version));
    return get('v1', async (c) => v1Status(c, version));
  }
  m = V2_MODEL_PATH.exec(path);
  if (m) {
    const [, name, version, action] = m;
    checkName(name as string, servedName);
    if (action === '/infer') return only('POST', method, path, { api: 'v2', run: (c) => infer(c, version) });
    if (action === '/ready') return get('v2', async (c) => v2Ready(c, version));
    return get('v2', async (c) => v2Metadata(c, version));
  }
  throw new ServeError(
    'SERVE_NOT_FOUND',
    `no endpoint ${path}; try /v1/models/${servedName}:predict, /v2/models/${servedName}/infer, /v2/health/ready or /metrics`,
  );
}

function only(want: string, method: string, path: string, r: Route): Route {
  if (method !== want)
    throw new ServeError('SERVE_METHOD_NOT_ALLOWED', `${path} accepts ${want}, not ${method}`);
  return r;
}

function checkName(name: string, served: string): void {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    // keep the raw segment in the message
  }
  if (decoded !== served) {
    throw new ServeError(
      'SERVE_NOT_FOUND',
      `model "${decoded}" is not served here; this server serves "${served}"`,
    );
  }
}

/** The version a request names (or the newest loaded one); 404/503 when it cannot be served. */
function resolveVersion(c: RouteContext, raw: string | undefined): LoadedVersion {
  const vs = c.versions;
  if (raw === undefined) {
    const latest = vs.latest();
    if (!latest) throw new ServeError('SERVE_NOT_READY', `model "${vs.name}" has no version loaded yet`);
    return latest;
  }
  if (!/^\d{1,15}$/.test(raw))
    throw new ServeError('SERVE_NOT_FOUND', `version "${raw}" is not an integer version`);
  const found = vs.get(Number(raw));
  if (!found) {
    const loaded = vs.versions();
    throw new ServeError(
      'SERVE_NOT_FOUND',
      `version ${raw} of model "${vs.name}" is not loaded (loaded: ${loaded.join(', ') || 'none'}; the server keeps the newest versions in the repository loaded)`,
    );
  }
  return found;
}

/**
 * What V1 predict and V2 infer share: the body parsed for the version's input, its images decoded, the
 * examples run through the version's batcher.
 */
async function runModel<R extends { images: ImageJob[]; inputs: Float32Array }>(
  c: RouteContext,
  version: string | undefined,
  parse: (body: unknown, inputName: string) => R,
): Promise<{ v: LoadedVersion; req: R; probs: Float32Array }> {
  const body = await c.json();
  const v = resolveVersion(c, version);
  const req = parse(body, v.manifest.inputSignature.name);
  await c.decode(req.images, req.inputs);
  return { v, req, probs: await v.batcher.submit(req.inputs, c.signal) };
}

async function predict(c: RouteContext, version: string | undefined): Promise<Reply> {
  const { v, req, probs } = await runModel(c, version, parsePredict);
  return ok(predictResponse(probs, req, v.model.numClasses));
}

async function infer(c: RouteContext, version: string | undefined): Promise<Reply> {
  const { v, req, probs } = await runModel(c, version, parseInfer);
  return ok(inferResponse(c.versions.name, v.version, req, probs, v.manifest.classNames));
}

async function v1Status(c: RouteContext, version: string | undefined): Promise<Reply> {
  const all = c.versions.status();
  if (version === undefined) {
    if (all.length === 0) {
      throw new ServeError(
        'SERVE_NOT_FOUND',
        `model "${c.versions.name}" has no versions in the repository yet`,
      );
    }
    return ok(statusResponse(all));
  }
  const one = all.filter((s) => String(s.version) === version);
  if (one.length === 0) {
    throw new ServeError(
      'SERVE_NOT_FOUND',
      `version ${version} of model "${c.versions.name}" is not known to the server`,
    );
  }
  return ok(statusResponse(one));
}

async function v1Metadata(c: RouteContext, version: string | undefined): Promise<Reply> {
  const v = resolveVersion(c, version);
  return ok(metadataResponse(c.versions.name, v.version, v.manifest));
}

async function v2Metadata(c: RouteContext, version: string | undefined): Promise<Reply> {
  const v = resolveVersion(c, version);
  const versions = version === undefined ? c.versions.versions() : [v.version];
  return ok(modelMetadata(c.versions.name, versions, v.manifest));
}

async function v2Ready(c: RouteContext, version: string | undefined): Promise<Reply> {
  let ready = c.ready();
  if (version !== undefined) {
    try {
      resolveVersion(c, version);
    } catch {
      ready = false;
    }
  }
  return ok({ name: c.versions.name, ready }, ready ? 200 : 503);
}
