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
import { byName, cli, CLI, getRun, sandbox, until } from './helpers.js';

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

/** Runs `distml ARGS` to its end, killing it if it has not ended within `ms` (then the test fails). */
async function runToEnd(
  args: string[],
  ms: number,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  try {
    const code = await exited;
    assert.notEqual(
      code,
      'SIGKILL',
      `distml ${args[0]} did not end within ${ms / 1000}s: ${stderr.slice(-1000)}`,
    );
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
}

/** How a started engine exited; fails if it is still running after `ms`. */
async function exitWithin(engine: ReturnType<typeof startEngine>, ms: number): Promise<number | string> {
  return until('the engine to exit', ms, () =>
    Promise.race([engine.exited, sleep(100).then(() => undefined)]),
  );
}

/** Pid of the workspace's server, which runs every run's engine. */
async function serverPid(ws: string): Promise<number> {
  const r = await cli(['server', 'status', '--json', `--workspace=${ws}`]);
  const pid = (JSON.parse(r.stdout) as { pid?: number }).pid;
  assert.ok(pid, `a server runs: ${r.stdout}${r.stderr}`);
  return pid;
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

describe('stop and resume after the engine was SIGKILLed', { timeout: 600_000 }, () => {
  it('stop --all ends what the dead engine left, a daemon child that escaped its owner included', async () => {
    const box = sandbox();
    let run = '';
    let engine: ReturnType<typeof startEngine> | undefined;
    try {
      // The daemon starts a child in a session of its own, out of reach of the parent-death signal: only the
      // run's marker in its environment finds it.
      const escaped = `require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' }).unref(); console.log('up'); setInterval(() => {}, 1000)`;
      const file = box.file(
        'escape.yaml',
        `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: escape-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: server, template: server}
        - - {name: hold, template: hold}
    - name: server
      daemon: true
      container:
        command: [node, -e, ${JSON.stringify(escaped)}]
    - name: hold
      container:
        command: [node, -e, "setInterval(() => {}, 1000)"]
`,
      );
      engine = startEngine(['run', file, '--json', `--workspace=${box.ws}`]);
      run = await until('the run to start', 120_000, engine.runName);
      await until('the server, its child and the hold step', 120_000, () =>
        processesOf(run).length >= 3 ? true : undefined,
      );
      // The engine runs in the workspace's server (the CLI only follows the run): SIGKILL that process.
      process.kill(await serverPid(box.ws), 'SIGKILL');
      await exitWithin(engine, 60_000);
      await until('the escaped child to be all that is left', 30_000, () =>
        processesOf(run).length === 1 ? true : undefined,
      );
      const before = processesOf(run);
      const stop = await cli(['stop', '--all', '--json', `--workspace=${box.ws}`]);
      assert.equal(stop.code, 0, stop.stderr + stop.stdout);
      assert.deepEqual(JSON.parse(stop.stdout), [{ run, phase: 'Failed' }]);
      await noneLeft(run, before);
    } finally {
      engine?.child.kill('SIGKILL');
      if (run) killAll(run);
      box.cleanup();
    }
  });

  it('resume after an engine SIGKILL starts the servers again and they serve', async () => {
    const { box, repo } = await servingBox();
    let run = '';
    let engine: ReturnType<typeof startEngine> | undefined;
    let resumed: ReturnType<typeof startEngine> | undefined;
    try {
      const s = await startServing(box.ws, box.file('owned.yaml', servingWorkflow(repo)));
      ({ run, engine } = s);
      engine.child.kill('SIGKILL');
      await exitWithin(engine, 60_000);
      await noneLeft(run, processesOf(run));
      assert.equal(await ready(s.url), false, 'the first gateway is gone');
      resumed = startEngine(['resume', run, '--json', `--workspace=${box.ws}`]);
      const url = await until('a new gateway', 180_000, async () => {
        const u = await servedUrl(box.ws, run, 'gateway');
        return u && u !== s.url ? u : undefined;
      });
      await until('the new gateway to serve', 180_000, async () => ((await ready(url)) ? true : undefined));
      resumed.child.kill('SIGTERM');
      assert.equal(await exitWithin(resumed, 120_000), 1, 'a stopped run exits 1');
      await noneLeft(run, []);
    } finally {
      engine?.child.kill('SIGKILL');
      resumed?.child.kill('SIGKILL');
      if (run) killAll(run);
      box.cleanup();
    }
  });
});

describe('daemon steps under the engine', { timeout: 600_000 }, () => {
  it('run --detach fails with a message when its engine dies before a server is up', async () => {
    const box = sandbox();
    try {
      // The first step kills the engine (its parent) before the server step can start.
      const file = box.file(
        'die.yaml',
        `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: die-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: kill-engine, template: kill-engine}
        - - {name: server, template: server}
    - name: kill-engine
      container: {command: [sh, -c, "kill -KILL $PPID; sleep 5"]}
    - name: server
      daemon: true
      container: {command: [node, -e, "console.log('up'); setInterval(() => {}, 1000)"]}
`,
      );
      const r = await runToEnd(['run', file, '--detach', '--json', `--workspace=${box.ws}`], 180_000);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const err = (JSON.parse(r.stdout.trim().split('\n').pop()!) as { error: { message: string } }).error;
      assert.match(err.message, /its engine \(pid \d+\) exited before a server was up/);
      assert.match(err.message, /engine\.log/);
    } finally {
      box.cleanup();
    }
  });

  it('waiting for a daemon that never gets ready ends when the run is stopped', async () => {
    const box = sandbox();
    let run = '';
    let engine: ReturnType<typeof startEngine> | undefined;
    try {
      const file = box.file(
        'mute.yaml',
        `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: mute-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps: [[{name: server, template: server}]]
    - name: server
      daemon: true
      container: {command: [node, -e, "setInterval(() => {}, 1000)"]}
`,
      );
      engine = startEngine(['run', file, '--json', `--workspace=${box.ws}`]);
      run = await until('the run to start', 120_000, engine.runName);
      await until('the server to run', 120_000, () => (processesOf(run).length ? true : undefined));
      engine.child.kill('SIGTERM');
      assert.equal(await exitWithin(engine, 120_000), 1, engine.stderr().slice(-1000));
      const { status } = await getRun(box.ws, run);
      assert.equal(status.phase, 'Failed');
      assert.equal(byName(status.nodes, 'server')?.message, 'stopped');
      await noneLeft(run, []);
    } finally {
      engine?.child.kill('SIGKILL');
      if (run) killAll(run);
      box.cleanup();
    }
  });

  it("a daemon's cores are released when it exits", async () => {
    const box = sandbox();
    try {
      // One core in the pool: `after` can start only once the server that held it has exited.
      const file = box.file(
        'cores.yaml',
        `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: cores-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: server, template: server}
        - - {name: after, template: after}
    - name: server
      daemon: true
      resources: {cores: 1}
      container: {command: [node, -e, "console.log('up'); setTimeout(() => {}, 1000)"]}
    - name: after
      resources: {cores: 1}
      container: {command: ["true"]}
`,
      );
      const r = await runToEnd(['run', file, '--cores=1', '--json', `--workspace=${box.ws}`], 180_000);
      assert.equal(r.code, 0, r.stderr.slice(-2000));
    } finally {
      box.cleanup();
    }
  });
});
