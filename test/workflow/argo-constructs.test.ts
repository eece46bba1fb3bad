import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { byName, CLI, cli, getRun, runName, sandbox } from './helpers.js';

const box = sandbox();
after(() => box.cleanup());
const ws = `--workspace=${box.ws}`;

/** Writes NAME.yaml (generateName NAME-), runs it, and returns its exit code and status. */
async function run(name: string, spec: string, extra: string[] = []) {
  const file = box.file(`${name}.yaml`, `kind: Workflow\nmetadata: {generateName: ${name}-}\nspec:\n${spec}`);
  const r = await cli(['run', file, '--json', ws, ...extra]);
  const { status } = await getRun(box.ws, runName(r));
  return { code: r.code, stderr: r.stderr, status, nodes: status.nodes };
}

const sh = `  - name: sh
    inputs: {parameters: [{name: cmd}]}
    container: {command: [sh, -c, "{{inputs.parameters.cmd}}"]}
`;
const call = (name: string, cmd: string, extra = '') =>
  `      - {name: ${name}, template: sh, ${extra} arguments: {parameters: [{name: cmd, value: '${cmd}'}]}}`;

/** Lines of a log file the steps append to. */
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');

/** True when no two "start" lines stand without an "end" between them: at most one at a time. */
const oneAtATime = (log: string[]) =>
  log.every((l, i) => i === 0 || !(l === 'start' && log[i - 1] === 'start'));

describe('Argo constructs in the local engine', () => {
  it("passes the workflow's arguments to the entrypoint's inputs", { timeout: 60_000 }, async () => {
    const r = await run(
      'args',
      `  entrypoint: main
  arguments: {parameters: [{name: message, value: from-the-workflow}]}
  templates:
  - name: main
    inputs: {parameters: [{name: message}, {name: other, default: dflt}]}
    container: {command: [echo, "{{inputs.parameters.message}} {{inputs.parameters.other}}"]}
`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      Object.values(r.nodes).find((n) => n.displayName.startsWith('args-'))?.outputs?.result,
      'from-the-workflow dflt',
    );
  });

  it(
    'fans out over withSequence: count, a descending range, and a printf format',
    { timeout: 60_000 },
    async () => {
      const r = await run(
        'seq',
        `  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: count, template: sh, withSequence: {count: "3"}, arguments: {parameters: [{name: cmd, value: "echo {{item}}"}]}}
      - {name: down, template: sh, withSequence: {start: 3, end: 1}, arguments: {parameters: [{name: cmd, value: "echo {{item}}"}]}}
      - {name: fmt, template: sh, withSequence: {start: "8", count: "3", format: "file-%02d"}, arguments: {parameters: [{name: cmd, value: "echo {{item}}"}]}}
      - {name: none, template: sh, withSequence: {count: "0"}, arguments: {parameters: [{name: cmd, value: "echo {{item}}"}]}}
${sh}`,
      );
      assert.equal(r.code, 0, r.stderr);
      const results = (prefix: string) =>
        Object.values(r.nodes)
          .filter((n) => n.displayName.startsWith(`${prefix}(`))
          .sort((a, b) => a.displayName.localeCompare(b.displayName))
          .map((n) => n.outputs?.result);
      assert.deepEqual(results('count'), ['0', '1', '2']);
      assert.deepEqual(results('down'), ['3', '2', '1']);
      assert.deepEqual(results('fmt'), ['file-08', 'file-09', 'file-10']);
      assert.deepEqual(results('none'), []);
    },
  );

  it(
    'limits concurrency with parallelism, for a template and for the whole workflow',
    { timeout: 120_000 },
    async () => {
      const step = (log: string) => `echo start >> ${log}; sleep 0.3; echo end >> ${log}`;
      const tmplLog = join(box.dir, 'tmpl.log');
      const t = await run(
        'par-tmpl',
        `  entrypoint: main
  templates:
  - name: main
    parallelism: 1
    steps:
    - - {name: fan, template: sh, withItems: [a, b, c, d], arguments: {parameters: [{name: cmd, value: "${step(tmplLog)}"}]}}
${sh}`,
      );
      assert.equal(t.code, 0, t.stderr);
      assert.equal(lines(tmplLog).length, 8);
      assert.ok(oneAtATime(lines(tmplLog)), lines(tmplLog).join(' '));

      const wfLog = join(box.dir, 'wf.log');
      const w = await run(
        'par-wf',
        `  entrypoint: main
  parallelism: 1
  templates:
  - name: main
    dag:
      tasks:
${call('a', step(wfLog))}
${call('b', step(wfLog))}
${call('c', step(wfLog))}
${sh}`,
      );
      assert.equal(w.code, 0, w.stderr);
      assert.equal(lines(wfLog).length, 6);
      assert.ok(oneAtATime(lines(wfLog)), lines(wfLog).join(' '));
    },
  );

  it(
    'fails a DAG fast by default (no new task after a failure), and runs every branch with failFast: false',
    { timeout: 180_000 },
    async () => {
      // `slow` ends only once the engine has recorded `bad` as Failed, so whether `after-slow` starts depends on
      // failFast alone, never on timing.
      const waitFailed = `i=0; until node ${CLI} get {{workflow.name}} -o json ${ws} | grep -q Failed; do sleep 0.2; i=$((i+1)); [ $i -lt 600 ] || exit 3; done`;
      const dag = (failFast: string) => `  entrypoint: main
  templates:
  - name: main
    dag:
      ${failFast}
      tasks:
${call('bad', 'exit 1')}
${call('slow', waitFailed)}
${call('after-slow', 'echo ran', 'depends: slow,')}
${sh}`;
      const fast = await run('failfast', dag(''));
      assert.notEqual(fast.code, 0);
      assert.equal(fast.status.phase, 'Failed');
      assert.equal(byName(fast.nodes, 'slow')?.phase, 'Succeeded');
      assert.equal(byName(fast.nodes, 'after-slow'), undefined, 'no task starts after a failure');

      const all = await run('nofailfast', dag('failFast: false'));
      assert.equal(all.status.phase, 'Failed');
      assert.equal(byName(all.nodes, 'after-slow')?.phase, 'Succeeded');
    },
  );

  it('runs only dag.target and what it depends on', { timeout: 60_000 }, async () => {
    const r = await run(
      'target',
      `  entrypoint: main
  templates:
  - name: main
    dag:
      target: b
      tasks:
${call('a', 'echo a')}
${call('b', 'echo b', 'dependencies: [a],')}
${call('c', 'echo c')}
${sh}`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(byName(r.nodes, 'a')?.phase, 'Succeeded');
    assert.equal(byName(r.nodes, 'b')?.phase, 'Succeeded');
    assert.equal(byName(r.nodes, 'c'), undefined);
  });

  it(
    'continueOn.error lets an errored step pass; continueOn.failed alone does not',
    { timeout: 60_000 },
    async () => {
      const steps = (continueOn: string) => `  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: broken, template: sh, withParam: "not json", continueOn: {${continueOn}: true}, arguments: {parameters: [{name: cmd, value: "true"}]}}
    - - {name: next, template: sh, arguments: {parameters: [{name: cmd, value: "echo next"}]}}
${sh}`;
      const onError = await run('cont-error', steps('error'));
      assert.equal(onError.code, 0, onError.stderr);
      assert.equal(byName(onError.nodes, 'broken')?.phase, 'Error');
      assert.equal(byName(onError.nodes, 'next')?.phase, 'Succeeded');
      const onFailed = await run('cont-failed', steps('failed'));
      assert.equal(onFailed.status.phase, 'Failed');
      assert.equal(byName(onFailed.nodes, 'next'), undefined);
    },
  );

  it('starts a task that depends on X.Daemoned once the daemon is up', { timeout: 60_000 }, async () => {
    const r = await run(
      'daemoned',
      `  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: server, template: server}
${call('client', 'echo client', 'depends: server.Daemoned,')}
  - name: server
    daemon: true
    container: {command: [sh, -c, "echo up; sleep 600"]}
${sh}`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(byName(r.nodes, 'client')?.phase, 'Succeeded');
  });

  it(
    'applies templateDefaults, counts {{retries}}, and fills the workflow variables',
    { timeout: 60_000 },
    async () => {
      const counter = join(box.dir, 'attempts');
      const r = await run(
        'defaults',
        `  entrypoint: main
  priority: 7
  templateDefaults:
    retryStrategy: {limit: 2, backoff: {duration: "0.1s"}}
  templates:
  - name: main
    steps:
    - - {name: flaky, template: flaky}
    - - {name: vars, template: sh, arguments: {parameters: [{name: cmd, value: "echo {{workflow.priority}} {{workflow.creationTimestamp.Y}} {{workflow.duration}}"}]}}
      - {name: fan, template: out, withItems: [x, y]}
    - - {name: fan-in, template: sh, arguments: {parameters: [{name: cmd, value: "echo '{{steps.fan.outputs.parameters}}'"}]}}
  - name: flaky
    container: {command: [sh, -c, 'echo {{retries}} >> ${counter}; [ {{retries}} -ge 1 ]']}
  - name: out
    outputs: {parameters: [{name: v, valueFrom: {path: v.txt}}]}
    container: {command: [sh, -c, "printf {{retries}} > v.txt"]}
${sh}`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(lines(counter), ['0', '1']);
      assert.equal(byName(r.nodes, 'flaky')?.retries, 1);
      const [priority, year, duration] = byName(r.nodes, 'vars')!.outputs!.result!.split(' ');
      assert.equal(priority, '7');
      assert.equal(year, String(new Date().getUTCFullYear()));
      assert.ok(Number(duration) >= 0, `workflow.duration ${duration}`);
      assert.deepEqual(JSON.parse(byName(r.nodes, 'fan-in')!.outputs!.result!), [{ v: '0' }, { v: '0' }]);
    },
  );

  it(
    'retries while retryStrategy.expression holds, and ends a node at its template timeout',
    { timeout: 120_000 },
    async () => {
      const counter = join(box.dir, 'conditional');
      const r = await run(
        'retry-expr',
        `  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: conditional, template: conditional}
      - {name: slow, template: slow}
  - name: conditional
    retryStrategy: {limit: 10, retryPolicy: Always, backoff: {duration: "0.1s"}, expression: "asInt(lastRetry.exitCode) == 2"}
    container: {command: [sh, -c, 'echo x >> ${counter}; n=$(wc -l < ${counter}); [ $n -lt 3 ] && exit 2; exit 1']}
  - name: slow
    timeout: 2s
    retryStrategy: {limit: 5, backoff: {duration: "0.1s"}}
    container: {command: [sleep, "30"]}
`,
      );
      assert.equal(r.status.phase, 'Failed');
      assert.equal(lines(counter).length, 3, 'retried on exit 2, stopped on exit 1');
      const cond = byName(r.nodes, 'conditional')!;
      assert.equal(cond.retries, 2);
      assert.match(cond.message ?? '', /exit code 1; retryStrategy\.expression .* is false/);
      const slow = byName(r.nodes, 'slow')!;
      assert.match(slow.message ?? '', /exceeded timeout 2s/);
      assert.equal(slow.retries, 0, 'no retry past the timeout');
    },
  );

  it(
    'refuses withSequence without count or end, and two kinds of fan-out at once',
    { timeout: 60_000 },
    async () => {
      const file = box.file(
        'bad-seq.yaml',
        `kind: Workflow
metadata: {generateName: bad-seq-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: sh, withSequence: {start: "1"}, arguments: {parameters: [{name: cmd, value: "true"}]}}
      - {name: b, template: sh, withItems: [1], withSequence: {count: "1"}, arguments: {parameters: [{name: cmd, value: "true"}]}}
${sh}`,
      );
      const r = await cli(['run', file, ws]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /steps\[0\]\[0\]\.withSequence \(line 8\): must set exactly one of count, end/);
      const twice = readFileSync(file, 'utf8').replace('{start: "1"}', '{count: "1"}');
      const both = await cli(['run', box.file('two-fanouts.yaml', twice), ws]);
      assert.notEqual(both.code, 0);
      assert.match(
        both.stderr,
        /steps\[0\]\[1\].*set one of withItems, withParam, withSequence, not several/,
      );
    },
  );
});
