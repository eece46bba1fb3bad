// The control plane's versioned JSON API, /api/v1: runs (submit, list, get, stop, retry, resume, logs,
// events), the live queue file, health, status and shutdown. Handlers throw; http.ts turns errors into `{error, code}` answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import type { RunRecord } from '../metadata/index.js';
import {
  checkRunName,
  parseWorkflowYaml,
  runJson,
  submitRun,
  SYNC_ANNOTATION,
  type WorkflowSpec,
} from '../workflow/index.js';
import { parseBody } from './body.js';
import { collectLogs } from './logs.js';
import { runRow } from './run-row.js';
import { applyQueues, queuesView } from './queues.js';
import type { Api } from './api.js';
import { streamEvents, streamNodeLog } from './streams.js';

type Handler = (
  api: Api,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  params: string[],
) => Promise<unknown>;

/** [method, path pattern, handler]; a handler's resolved value is answered as JSON (undefined: it answered). */
export const ROUTES: [string, RegExp, Handler][] = [
  ['GET', /^\/api\/v1\/health$/, async () => ({ ok: true, pid: process.pid })],
  ['GET', /^\/api\/v1\/status$/, async (api) => api.status()],
  [
    'POST',
    /^\/api\/v1\/shutdown$/,
    async (api, _req, res) => answerThen(res, 202, { stopping: true }, api.shutdown),
  ],
  ['GET', /^\/api\/v1\/queues$/, async (api) => queuesView(api)],
  ['PUT', /^\/api\/v1\/queues$/, (api, req) => applyQueues(api, req)],
  ['GET', /^\/api\/v1\/runs$/, async (api) => api.store.listRuns().map((r) => runSummary(api, r))],
  ['POST', /^\/api\/v1\/runs$/, (api, req, res) => submit(api, req, res)],
  ['GET', /^\/api\/v1\/runs\/([^/]+)$/, async (api, _q, _s, _u, [n]) => getRun(api, n!)],
  ['POST', /^\/api\/v1\/runs\/([^/]+)\/stop$/, async (api, _q, _s, _u, [n]) => stop(api, n!)],
  [
    'POST',
    /^\/api\/v1\/runs\/([^/]+)\/(retry|resume)$/,
    (api, req, res, _u, [n, m]) => restart(api, req, res, n!, m as 'retry'),
  ],
  [
    'GET',
    /^\/api\/v1\/runs\/([^/]+)\/events$/,
    async (api, req, res, url, [n]) => streamEvents(api, req, res, url, run(api, n!)),
  ],
  [
    'GET',
    /^\/api\/v1\/runs\/([^/]+)\/logs$/,
    async (api, _q, _s, url, [n]) =>
      collectLogs(api.store, run(api, n!), url.searchParams.get('step') ?? undefined),
  ],
  [
    'GET',
    /^\/api\/v1\/runs\/([^/]+)\/logs\/([^/]+)$/,
    async (api, _q, res, url, [n, node]) => streamNodeLog(api, res, url, run(api, n!), node!),
  ],
];

/** The run's name after checking it names a recorded run (400 for a malformed name, 404 for an unknown one). */
function run(api: Api, name: string): string {
  return api.store.getRun(checkRunName(decodeURIComponent(name))).name;
}

/** Answers, then (once the answer is sent) does `then`. */
function answerThen(res: ServerResponse, status: number, body: unknown, then: () => void): undefined {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body), () => {
    try {
      then();
    } catch {
      // Only a second restart of the same run racing this one: that one's engine runs, followers see it.
    }
  });
  return undefined;
}

function runSummary(api: Api, r: RunRecord) {
  const here = api.runs.describe(r.name);
  return { ...runRow(r), ...(here ? { detached: here.detached, followers: here.followers } : {}) };
}

function getRun(api: Api, name: string) {
  const r = api.store.getRun(run(api, name));
  return { ...runJson(r, api.store.listNodes(r.name)), server: runSummary(api, r) };
}

const positive = z.number({ message: 'must be a positive number' }).positive('must be a positive number');
const runOptions = z
  .object({
    detach: z.boolean().default(false),
    sync: z.boolean().default(false),
    cores: positive.optional(),
    cwd: z.string().refine(isAbsolute, 'must be an absolute path').optional(),
    user: z.string().min(1, 'must not be empty').optional(),
    queue: z.string().min(1, 'must not be empty').optional(),
    priority: z.string().min(1, 'must not be empty').optional(),
  })
  .strict()
  .default({});
const submitBody = z
  .object({
    workflow: z.string({ message: 'must be the workflow as YAML text' }).min(1, 'must not be empty'),
    parameters: z.record(z.string(), z.string({ message: 'must be a string' })).default({}),
    options: runOptions,
  })
  .strict();
const restartBody = z.object({ options: runOptions }).strict();

const startOptions = (o: z.infer<typeof runOptions>) => ({
  detached: o.detach,
  cores: o.cores,
  cwd: o.cwd,
  job: {
    ...(o.user ? { user: o.user } : {}),
    ...(o.queue ? { queue: o.queue } : {}),
    ...(o.priority ? { priorityClass: o.priority } : {}),
  },
});

async function submit(api: Api, req: IncomingMessage, res: ServerResponse) {
  const b = await parseBody(req, submitBody);
  const spec = parseWorkflowYaml(b.workflow, 'body.workflow');
  api.runs.checkJob(startOptions(b.options).job);
  const name = submitRun(api.store, b.options.sync ? withSync(spec) : spec, b.parameters);
  // Answered before the engine starts: a step that kills the server cannot take the answer with it.
  const answer = { run: name, phase: api.store.getRun(name).phase, detached: b.options.detach };
  return answerThen(res, 201, answer, () =>
    api.runs.start(name, { ...startOptions(b.options), reuse: false }),
  );
}

async function restart(
  api: Api,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  mode: 'retry' | 'resume',
) {
  const b = await parseBody(req, restartBody);
  const n = run(api, name);
  api.runs.checkJob(startOptions(b.options).job);
  await api.runs.prepare(n, mode);
  const answer = { run: n, phase: api.store.getRun(n).phase, detached: b.options.detach };
  return answerThen(res, 202, answer, () => api.runs.start(n, { ...startOptions(b.options), reuse: true }));
}

async function stop(api: Api, name: string) {
  const r = await api.runs.stop(run(api, name));
  return { run: r.name, phase: r.phase, message: r.message };
}

/** The spec with the annotation that makes the engine run it synchronously. */
function withSync(spec: WorkflowSpec): WorkflowSpec {
  const annotations = { ...(spec.metadata['annotations'] as Record<string, string> | undefined) };
  annotations[SYNC_ANNOTATION] = 'true';
  return { ...spec, metadata: { ...spec.metadata, annotations } };
}
