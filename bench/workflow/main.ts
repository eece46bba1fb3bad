// bench/workflow: per-step overhead of the workflow engine on a fan-out of N steps (withSequence count N).
//   - `true` steps: each a child process, as a container/script step is (spawn, logs, scratch dir, DB rows);
//   - no-op steps: `suspend: {duration: "0"}`, which the engine runs in process (no child): engine cost alone;
//   - bare spawn: N `true` processes spawned by Node with the same concurrency and nothing else (the floor a
//     process-per-step engine cannot go below on this machine).
// Milliseconds per step = wall time of the run / N. Anchors (quoted, not measured here): an Argo step is a pod,
// seconds each (pod scheduling, image, init and wait containers: Argo's docs/container-set-template.md and
// docs/initless-pod.md name this startup overhead); a Ray task is ~1 ms (Ray's docs advise tasks of at least
// ~10 ms so this overhead does not dominate: docs.ray.io, "Optimizing Performance", small tasks).
//   node dist/bench/workflow/main.js            BENCH_WORKFLOW_STEPS=1000 (default) BENCH_WORKFLOW_REPEAT=2
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { MetadataStore } from '../../src/metadata/index.js';
import { ResourcePool } from '../../src/scheduler/index.js';
import { checkWorkflow, executeRun, submitRun, type WorkflowInput } from '../../src/workflow/index.js';
import { report, ROOT } from '../harness.js';

const STEPS = Number(process.env['BENCH_WORKFLOW_STEPS'] ?? 1000);
const REPEAT = Number(process.env['BENCH_WORKFLOW_REPEAT'] ?? 2);
const CLI = [process.execPath, join(ROOT, 'dist', 'src', 'cli', 'main.js')];

const fanOut = (leaf: Record<string, unknown>): WorkflowInput =>
  ({
    kind: 'Workflow',
    metadata: { generateName: 'bench-' },
    spec: {
      entrypoint: 'main',
      templates: [
        { name: 'main', steps: [[{ name: 'n', template: 'leaf', withSequence: { count: String(STEPS) } }]] },
        { name: 'leaf', ...leaf },
      ],
    },
  }) as WorkflowInput;

interface PerStep {
  /** Wall milliseconds per step. */
  wall: number;
  /** This process's CPU (user + system) milliseconds per step: the engine's own cost, children excluded. */
  cpu: number;
}

/** Runs the fan-out once in a fresh workspace; milliseconds per step. */
async function engineRun(leaf: Record<string, unknown>): Promise<PerStep> {
  const ws = mkdtempSync(join(tmpdir(), 'bench-workflow-'));
  const store = MetadataStore.open(ws);
  try {
    const name = submitRun(store, checkWorkflow(fanOut(leaf)), {});
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const run = await executeRun(name, {
      store,
      workspace: ws,
      pool: new ResourcePool({ cores: availableParallelism(), memory: totalmem() }),
      distmlCommand: CLI,
    });
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (run.phase !== 'Succeeded') throw new Error(`bench run ${name} ${run.phase}: ${run.message}`);
    return { wall: wall / STEPS, cpu: (c.user + c.system) / 1000 / STEPS };
  } finally {
    store.close();
    rmSync(ws, { recursive: true, force: true });
  }
}

/** N `true` processes spawned at once, as the engine spawns a fan-out; milliseconds per process. */
async function bareSpawn(): Promise<PerStep> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await Promise.all(
    Array.from(
      { length: STEPS },
      () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn('true', [], { stdio: 'ignore' });
          child.on('error', reject);
          child.on('exit', () => resolve());
        }),
    ),
  );
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / STEPS, cpu: (c.user + c.system) / 1000 / STEPS };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
/** The best of REPEAT runs (the machine is shared: the least disturbed run is the closest to the cost). */
const best = async (fn: () => Promise<PerStep>) => {
  let b: PerStep = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < REPEAT; i++) {
    const r = await fn();
    b = { wall: Math.min(b.wall, r.wall), cpu: Math.min(b.cpu, r.cpu) };
  }
  return { wall: round(b.wall), cpu: round(b.cpu) };
};

const noop = await best(() => engineRun({ suspend: { duration: '0' } }));
const processTrue = await best(() => engineRun({ container: { command: ['true'] } }));
const spawnOnly = await best(bareSpawn);
report('workflow', {
  steps: STEPS,
  shape: `one steps group, withSequence count ${STEPS}, no parallelism limit; best of ${REPEAT}`,
  msPerStep: {
    processTrue: processTrue.wall,
    inProcessNoop: noop.wall,
    bareSpawnTrue: spawnOnly.wall,
    engineOverheadPerProcessStep: round(processTrue.wall - spawnOnly.wall),
  },
  engineCpuMsPerStep: {
    processTrue: processTrue.cpu,
    inProcessNoop: noop.cpu,
    bareSpawnTrue: spawnOnly.cpu,
  },
  profile:
    'node --cpu-prof on the no-op fan-out: compiling a SQLite statement per node write was ~16% of engine time; ' +
    'with the store compiling each statement once, engine CPU per no-op step went from ~0.60 to ~0.41 ms (paired ' +
    'runs on a loaded machine). What remains per step is SQLite writes (a node is written ~4 times) and, for a ' +
    'process step, spawn (fork/exec on the event loop) and the scratch dir.',
  anchors: {
    argoMsPerPod: {
      value: 'seconds (order 1000-5000 ms)',
      source:
        "quoted: each Argo step is a pod (scheduling, image, init and wait containers); Argo's docs/container-set-template.md and docs/initless-pod.md name this per-pod startup overhead",
    },
    rayMsPerTask: {
      value: 1,
      source:
        'quoted: Ray adds some overhead per task and advises tasks of at least ~10 ms (docs.ray.io, Optimizing Performance: small tasks)',
    },
  },
});
