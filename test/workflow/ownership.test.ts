// Every process a run starts has an owner (issue 10, section 2): a `distml run` killed by SIGHUP (its
// terminal closed), SIGTERM or SIGKILL leaves none of its processes behind, servers and their replicas
// included; `stop --all` ends what a dead engine left; `resume` starts the servers again. Processes are found
// by the run's marker in their environment, as a user would find them in /proc, not by timing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { publish } from '../../src/registry/index.js';
import { makePackage } from '../serve/fixtures.js';
import { byName, CLI, getRun, sandbox } from './helpers.js';

interface Proc {
  pid: number;
  start: string;
  cmd: string;
}

/** Live processes whose environment carries the run's node-key marker (the engine's steps and their children). */
function processesOf(run: string): Proc[] {
  const found: Proc[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${p}/environ`, 'latin1');
      if (!`\0${env}`.includes(`\0DISTML_NODE_KEY=${run}/`)) continue;
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
      found.push({ pid: Number(p), start: fields[19]!, cmd });
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

function killAll(run: string): void {
  for (const p of processesOf(run)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

async function until<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
    await sleep(200);
  }
}

/** `distml ARGS` as a child process whose output is read as it comes (the run name is in its first event). */
function startEngine(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  const runName = () => /"event":"run","run":"([^"]+)"/.exec(stderr)?.[1];
  return { child, exited, runName, stderr: () => stderr };
}

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/health/ready`, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** A url a daemon node published, once it is up. */
async function servedUrl(ws: string, run: string, step: string): Promise<string | undefined> {
  const { status } = await getRun(ws, run);
  const node = byName(status.nodes, step);
  if (node?.phase !== 'Succeeded') return undefined;
  return node.outputs?.parameters.find((p) => p.name === 'url')?.value;
}

/** A workspace with a model repository holding one (untrained) package of the book's cnn. */
async function servingBox() {
  const box = sandbox();
  const repo = join(box.dir, 'repo');
  await publish(repo, 'cnn', await makePackage(join(box.dir, 'pkg')));
  return { box, repo };
}

/**
 * A gateway with one replica (built-in serve), a `daemon: true` server, and a step that runs until stopped:
 * the shape of the book pipeline that the terminal's SIGHUP left running.
 */
function servingWorkflow(
  repo: string,
  extraServer = 'console.log("up"); setInterval(() => {}, 1000)',
): string {
  return `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: owned-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: gateway, template: gateway}
          - {name: server, template: server}
        - - {name: hold, template: hold}
    - name: gateway
      distml:
        kind: serve
        with: {repo: ${JSON.stringify(repo)}, model: cnn, replicas: '1', replica-threads: '1'}
    - name: server
      daemon: true
      container:
        command: [node, -e, ${JSON.stringify(extraServer)}]
    - name: hold
      container:
        command: [node, -e, "setInterval(() => {}, 1000)"]
`;
}

/** Starts the serving workflow and waits until the gateway's replica answers and `hold` runs. */
async function startServing(ws: string, file: string) {
  const engine = startEngine(['run', file, '--json', `--workspace=${ws}`]);
  const run = await until('the run to start', 120_000, engine.runName);
  const url = await until('the gateway to be up', 180_000, () => servedUrl(ws, run, 'gateway'));
  await until('its replica to be ready', 180_000, async () => ((await ready(url)) ? true : undefined));
  await until('the hold step to run', 60_000, () =>
    processesOf(run).some((p) => p.cmd.includes('setInterval')) && processesOf(run).length >= 4
      ? true
      : undefined,
  );
  return { engine, run, url };
}

async function noneLeft(run: string, before: Proc[]): Promise<void> {
  let left: Proc[] = [];
  const deadline = Date.now() + 30_000;
  do {
    const now = processesOf(run);
    const again = before.filter((b) => existsAs(b.pid, b.start));
    left = [...new Map([...now, ...again].map((p) => [p.pid, p])).values()];
    if (!left.length) return;
    await sleep(200);
  } while (Date.now() < deadline);
  assert.fail(`processes of ${run} still running: ${left.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
}

function existsAs(pid: number, start: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] !== 'Z' && fields[19] === start;
  } catch {
    return false;
  }
}

describe('every process of a run has an owner', { timeout: 600_000 }, () => {
  for (const signal of ['SIGHUP', 'SIGTERM', 'SIGKILL'] as const) {
    it(`${signal} to \`distml run\` with servers up leaves none of its processes`, async () => {
      const { box, repo } = await servingBox();
      let run = '';
      let engine: ReturnType<typeof startEngine> | undefined;
      try {
        const s = await startServing(box.ws, box.file('owned.yaml', servingWorkflow(repo)));
        ({ run, engine } = s);
        const before = processesOf(run);
        assert.ok(
          before.some((p) => p.cmd.includes('--exit-with-parent')),
          'a replica of the gateway runs',
        );
        engine.child.kill(signal);
        const how = await until('the engine to exit', 120_000, () =>
          Promise.race([engine!.exited, sleep(100)]),
        );
        if (signal !== 'SIGKILL')
          assert.equal(how, 1, `a stopped run exits 1: ${engine.stderr().slice(-1000)}`);
        await noneLeft(run, before);
      } finally {
        engine?.child.kill('SIGKILL');
        if (run) killAll(run);
        box.cleanup();
      }
    });
  }
});
