import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { byName, cli, getRun, runName, sandbox, startCli } from './helpers.js';

const box = sandbox();
after(() => box.cleanup());
const ws = `--workspace=${box.ws}`;
const lines = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];

/** Writes NAME.yaml: a Workflow (generateName NAME-) whose entrypoint is `main`; `spec` follows `spec:`. */
const workflowFile = (name: string, spec: string) =>
  box.file(
    `${name}.yaml`,
    `kind: Workflow\nmetadata: {generateName: ${name}-}\nspec:\n  entrypoint: main\n${spec}`,
  );

/** A container template appending its name to LOG (and printing it). */
const mark = (log: string) => `  - name: mark
    inputs: {parameters: [{name: n}]}
    container: {command: [sh, -c, 'echo "$0" >> ${log}; echo "$0"', "{{inputs.parameters.n}}"]}
`;

describe('workflow engine', { timeout: 900_000 }, () => {
  it('runs steps groups in order, fans out over items, fans in their results, skips on when', async () => {
    const log = join(box.dir, 'steps.log');
    const file = workflowFile(
      'steps',
      `  templates:
  - name: main
    steps:
    - - {name: first, template: mark, arguments: {parameters: [{name: n, value: first}]}}
    - - {name: fan, template: mark, withItems: [x, y, z], arguments: {parameters: [{name: n, value: "{{item}}"}]}}
      - {name: never, template: mark, when: "{{steps.first.outputs.result}} == other", arguments: {parameters: [{name: n, value: never}]}}
    - - {name: join, template: mark, arguments: {parameters: [{name: n, value: "{{steps.fan.outputs.result}}"}]}}
${mark(log)}`,
    );
    const r = await cli(['run', file, '--json', ws]);
    assert.equal(r.code, 0, r.stderr);
    const order = lines(log);
    assert.equal(order[0], 'first');
    assert.deepEqual(order.slice(1, 4).sort(), ['x', 'y', 'z']);
    assert.deepEqual(JSON.parse(order[4]!), ['x', 'y', 'z']);
    assert.equal(order.length, 5);
    const run = await getRun(box.ws, runName(r));
    assert.equal(run.status.phase, 'Succeeded');
    const never = byName(run.status.nodes, 'never')!;
    assert.equal(never.phase, 'Skipped');
    const fan = byName(run.status.nodes, 'fan(1:y)')!;
    assert.equal(fan.phase, 'Succeeded');
    assert.equal(fan.outputs?.result, 'y');
    assert.match(fan.startedAt!, /^\d{4}-\d\d-\d\dT/);
    assert.match(fan.finishedAt!, /^\d{4}-\d\d-\d\dT/);
  });

  it('runs a DAG diamond respecting dependencies', async () => {
    const log = join(box.dir, 'dag.log');
    const call = (name: string, deps = '') =>
      `      - {name: ${name}, template: mark, ${deps} arguments: {parameters: [{name: n, value: ${name}}]}}`;
    const file = workflowFile(
      'dag',
      `  templates:
  - name: main
    dag:
      tasks:
${call('d', 'depends: "b && c",')}
${call('b', 'dependencies: [a],')}
${call('c', 'dependencies: [a],')}
${call('a')}
${mark(log)}`,
    );
    const r = await cli(['run', file, '--json', ws]);
    assert.equal(r.code, 0, r.stderr);
    const order = lines(log);
    assert.equal(order[0], 'a');
    assert.deepEqual(order.slice(1, 3).sort(), ['b', 'c']);
    assert.equal(order[3], 'd');
  });

  it('starts a task when its own dependencies finish, while a sibling branch still runs (book 5.3)', async () => {
    // `slow` (a long training) finishes only after `answer` (a prediction that depends on `fast` alone) has
    // run: an engine that waited for every branch before `answer` would leave `slow` waiting until it fails.
    const flag = join(box.dir, 'answered');
    const file = workflowFile(
      'async',
      `  templates:
  - name: main
    dag:
      tasks:
      - {name: fast, template: run, arguments: {parameters: [{name: cmd, value: "true"}]}}
      - {name: slow, template: run, arguments: {parameters: [{name: cmd, value: 'i=0; until [ -f ${flag} ]; do sleep 0.1; i=$((i+1)); [ $i -lt 1200 ] || exit 3; done'}]}}
      - {name: answer, template: run, depends: fast, arguments: {parameters: [{name: cmd, value: 'touch ${flag}'}]}}
      - {name: summary, template: run, depends: answer && slow, arguments: {parameters: [{name: cmd, value: "true"}]}}
  - name: run
    inputs: {parameters: [{name: cmd}]}
    container: {command: [sh, -c, "{{inputs.parameters.cmd}}"]}
`,
    );
    const r = await cli(['run', file, '--json', ws]);
    assert.equal(r.code, 0, r.stderr);
    const { status } = await getRun(box.ws, runName(r));
    for (const n of ['fast', 'slow', 'answer', 'summary']) {
      assert.equal(byName(status.nodes, n)?.phase, 'Succeeded', n);
    }
  });

  it('gives each step its granted cores as DISTML_THREADS (at least 1)', async () => {
    const file = workflowFile(
      'threads',
      `  templates:
  - name: main
    dag:
      tasks:
      - {name: two, template: two}
      - {name: none, template: none}
  - name: two
    resources: {cores: 2}
    container: {command: [sh, -c, 'echo $DISTML_THREADS']}
  - name: none
    resources: {cores: 0}
    container: {command: [sh, -c, 'echo $DISTML_THREADS']}
`,
    );
    const r = await cli(['run', file, '--json', '--cores=2', ws]);
    assert.equal(r.code, 0, r.stderr);
    const { status } = await getRun(box.ws, runName(r));
    assert.equal(byName(status.nodes, 'two')?.outputs?.result, '2');
    assert.equal(byName(status.nodes, 'none')?.outputs?.result, '1');
  });

  it('retries a failing command with backoff until it succeeds', async () => {
    const file = box.file(
      'retry.yaml',
      `kind: Workflow
metadata: {generateName: retry-}
spec:
  entrypoint: flaky
  templates:
  - name: flaky
    retryStrategy: {limit: 3, retryPolicy: OnFailure, backoff: {duration: 0.2s, factor: 2, maxDuration: 1m}}
    container:
      workingDir: ${box.dir}
      command: [sh, -c, 'n=$(cat tries 2>/dev/null || echo 0); n=$((n+1)); echo $n > tries; [ $n -ge 3 ]']
`,
    );
    const t0 = Date.now();
    const r = await cli(['run', file, '--json', ws]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 >= 600, 'waited 0.2s + 0.4s of backoff');
    assert.equal(readFileSync(join(box.dir, 'tries'), 'utf8').trim(), '3');
    const run = await getRun(box.ws, runName(r));
    const node = byName(run.status.nodes, runName(r))!;
    assert.equal(node.phase, 'Succeeded');
    assert.equal(node.retries, 2);
  });

  it('memoizes: hit, miss when the fingerprint in the key changes, miss after maxAge', async () => {
    const count = join(box.dir, 'ingest.count');
    // A long maxAge while hits are checked (a 2 s one expired between two runs on a busy machine); then the
    // same entries under a 1 s maxAge, after more than 1 s has passed, must miss.
    const memoFile = (maxAge: string) =>
      box.file(
        'memo.yaml',
        `kind: Workflow
metadata: {generateName: memo-}
spec:
  entrypoint: ingest
  arguments: {parameters: [{name: fingerprint, value: abc}]}
  templates:
  - name: ingest
    memoize: {key: "ingest-{{workflow.parameters.fingerprint}}", maxAge: ${maxAge}, cache: {configMap: {name: ingest-cache}}}
    outputs: {parameters: [{name: rows, valueFrom: {path: rows.txt}}]}
    container: {command: [sh, -c, 'echo x >> ${count}; echo 42 > rows.txt; echo ingested']}
`,
      );
    const file = memoFile('1h');
    const node = async (r: { stderr: string }) =>
      byName((await getRun(box.ws, runName(r))).status.nodes, runName(r))!;
    const first = await cli(['run', file, '--json', ws]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual((await node(first)).memoizationStatus, {
      hit: false,
      key: 'ingest-abc',
      cacheName: 'ingest-cache',
    });
    const second = await cli(['run', file, '--json', ws]);
    const hit = await node(second);
    assert.equal(hit.memoizationStatus?.hit, true);
    assert.deepEqual(hit.outputs?.parameters, [{ name: 'rows', value: '42' }]);
    assert.equal(hit.outputs?.result, 'ingested');
    assert.equal(lines(count).length, 1);
    const changed = await cli(['run', file, '-p', 'fingerprint=def', '--json', ws]);
    assert.equal((await node(changed)).memoizationStatus?.hit, false);
    assert.equal(lines(count).length, 2);
    memoFile('1s');
    await sleep(1100); // at least: the entries are older than 1 s however long the runs above took
    const expired = await cli(['run', file, '--json', ws]);
    assert.equal((await node(expired)).memoizationStatus?.hit, false);
    assert.equal(lines(count).length, 3);
    const ls = JSON.parse((await cli(['cache', 'ls', '--json', ws])).stdout) as { key: string }[];
    assert.deepEqual(ls.map((e) => e.key).sort(), ['ingest-abc', 'ingest-def']);
    const gc = JSON.parse((await cli(['cache', 'gc', '--unused-for', '1s', '--json', ws])).stdout) as {
      removed: unknown[];
    };
    assert.ok(gc.removed.length >= 1);
  });

  it('runs the exit handler on failure, keeps a failed step scratch dir and removes a good one', async () => {
    const status = join(box.dir, 'exit.status');
    const file = workflowFile(
      'fail',
      `  onExit: report
  templates:
  - name: main
    steps:
    - - {name: good, template: write, arguments: {parameters: [{name: code, value: "0"}]}}
    - - {name: bad, template: write, arguments: {parameters: [{name: code, value: "3"}]}}
  - name: write
    inputs: {parameters: [{name: code}]}
    container: {command: [sh, -c, 'echo partial > work.txt; echo oops >&2; exit {{inputs.parameters.code}}']}
  - name: report
    container: {command: [sh, -c, 'echo "{{workflow.status}}" > ${status}']}
`,
    );
    const r = await cli(['run', file, '--json', ws]);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).error.code, 'WORKFLOW_RUN_FAILED');
    assert.equal(readFileSync(status, 'utf8').trim(), 'Failed');
    const run = await getRun(box.ws, runName(r));
    assert.equal(run.status.phase, 'Failed');
    const bad = byName(run.status.nodes, 'bad')!;
    assert.equal(bad.phase, 'Failed');
    assert.equal(bad.message, 'exit code 3: oops');
    const scratch = join(box.ws, 'runs', runName(r), 'scratch');
    const kept = readdirSync(scratch);
    assert.equal(kept.length, 1, `only the failed step's scratch dir is left: ${kept.join(', ')}`);
    assert.match(kept[0]!, /bad/);
    assert.equal(readFileSync(join(scratch, kept[0]!, 'work.txt'), 'utf8'), 'partial\n');
    const logs = await cli(['logs', runName(r), 'bad', ws]);
    assert.match(logs.stdout, /bad: oops/);
  });

  it('resumes a run whose engine was SIGKILLed without re-running finished steps', async () => {
    const log = join(box.dir, 'resume.log');
    // `slow` ends when the test says so, not after `sleep 2`: on a busy machine the killed engine's attempt
    // finished its 2 s before `resume` got to reap it.
    const go = join(box.dir, 'resume.go');
    const file = workflowFile(
      'resume',
      `  templates:
  - name: main
    steps:
    - - {name: one, template: mark, arguments: {parameters: [{name: n, value: one}]}}
    - - {name: slow, template: slow}
    - - {name: three, template: mark, arguments: {parameters: [{name: n, value: three}]}}
  - name: slow
    container: {command: [sh, -c, 'echo slow-start >> ${log}; i=0; until [ -f ${go} ]; do sleep 0.1; i=$((i+1)); [ $i -lt 1200 ] || exit 3; done; echo slow-end >> ${log}']}
${mark(log)}`,
    );
    const { done } = startCli(['run', file, '--json', ws]);
    try {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && !lines(log).includes('slow-start')) await sleep(50);
      assert.ok(lines(log).includes('slow-start'), 'the slow step started');
    } finally {
      // The engine runs in the workspace's server (the CLI only follows the run): SIGKILL that process.
      const server = JSON.parse(readFileSync(join(box.ws, 'server', 'server.json'), 'utf8')) as {
        pid: number;
      };
      process.kill(server.pid, 'SIGKILL');
    }
    const killed = await done;
    const name = runName(killed);
    assert.equal((await getRun(box.ws, name)).status.phase, 'Running');
    const resuming = startCli(['resume', name, '--json', ws]);
    try {
      const deadline = Date.now() + 60_000;
      const starts = () => lines(log).filter((l) => l === 'slow-start').length;
      while (Date.now() < deadline && starts() < 2) await sleep(50);
      assert.equal(starts(), 2, 'the resumed run started the slow step again');
    } finally {
      writeFileSync(go, ''); // lets every attempt of `slow` end, so nothing waits on a failed test
    }
    const resumed = await resuming.done;
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(lines(log), ['one', 'slow-start', 'slow-start', 'slow-end', 'three']);
    await sleep(1000); // an attempt left running polls for the flag every 0.1 s: it would have ended by now
    assert.equal(
      lines(log).filter((l) => l === 'slow-end').length,
      1,
      'the orphaned first attempt was reaped',
    );
    assert.equal((await getRun(box.ws, name)).status.phase, 'Succeeded');
  });
});
