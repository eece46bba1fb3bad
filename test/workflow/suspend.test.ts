import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { byName, cli, getRun, sandbox, startCli, until, type Node } from './helpers.js';

const box = sandbox();
after(() => box.cleanup());
const ws = `--workspace=${box.ws}`;

const spec = (name: string) => `kind: Workflow
metadata: {generateName: ${name}-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: approve, template: approve}
      - {name: pause, template: pause}
    - - name: use
        template: echo
        arguments: {parameters: [{name: m, value: "{{steps.approve.outputs.parameters.answer}} {{steps.approve.outputs.parameters.note}}"}]}
  - name: approve
    suspend: {}
    outputs:
      parameters:
      - {name: answer, valueFrom: {supplied: {}}}
      - {name: note, valueFrom: {supplied: {}, default: none}}
  - name: pause
    suspend: {duration: "1s"}
  - name: echo
    inputs: {parameters: [{name: m}]}
    container: {command: [echo, "{{inputs.parameters.m}}"]}
`;

/** Starts the workflow and waits (up to 60 s) until its `approve` step is suspended; returns the run. */
async function startSuspended(name: string) {
  const started = startCli(['run', box.file(`${name}.yaml`, spec(name)), '--json', ws]);
  const deadline = Date.now() + 60_000;
  for (;;) {
    assert.equal(started.child.exitCode, null, 'the run ended before its step was suspended');
    const listed = await cli(['list', '--json', ws]);
    const run = (JSON.parse(listed.stdout || '[]') as { name: string }[]).find((r) =>
      r.name.startsWith(`${name}-`),
    );
    if (run) {
      const { status } = await getRun(box.ws, run.name);
      const approve = byName(status.nodes, 'approve');
      if (approve?.phase === 'Running' && /suspended/.test(approve.message ?? ''))
        return { run: run.name, started };
    }
    assert.ok(Date.now() < deadline, 'approve was not suspended within 60 s');
    await sleep(200);
  }
}

const result = (nodes: Record<string, Node>, name: string) => byName(nodes, name)?.outputs?.result;

describe('suspend templates (Argo intermediate parameters)', () => {
  it(
    'waits for distml resume, takes the outputs set with distml node set, and ends a timed pause by itself',
    { timeout: 120_000 },
    async () => {
      const { run, started } = await startSuspended('approval');
      // The timed pause beside it ends by itself (1 s); until it has, it is suspended too.
      await until('the 1 s pause to end', 60_000, async () =>
        byName((await getRun(box.ws, run)).status.nodes, 'pause')?.phase === 'Succeeded' ? true : undefined,
      );
      const bad = await cli(['node', 'set', run, '--node', 'approve', '--output-parameter', 'nope=1', ws]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /no supplied output parameter "nope" \(it has: answer, note\)/);
      const notSuspended = await cli([
        'node',
        'set',
        run,
        '--node',
        'use',
        '--output-parameter',
        'answer=1',
        ws,
      ]);
      assert.match(notSuspended.stderr, /no suspended step "use" \(waiting: approve\)/);
      const set = await cli([
        'node',
        'set',
        run,
        '--node',
        'approve',
        '--output-parameter',
        'answer=YES',
        ws,
      ]);
      assert.equal(set.code, 0, set.stderr);
      const resumed = await cli(['resume', run, '--json', ws]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.deepEqual(JSON.parse(resumed.stdout), { run, resumed: ['approve'] });
      const end = await started.done;
      assert.equal(end.code, 0, end.stderr);
      const { status } = await getRun(box.ws, run);
      assert.equal(result(status.nodes, 'use'), 'YES none');
      assert.equal(byName(status.nodes, 'pause')?.phase, 'Succeeded');
    },
  );

  it(
    'errors a resumed step whose supplied output has no value and no default',
    { timeout: 120_000 },
    async () => {
      const { run, started } = await startSuspended('unanswered');
      const resumed = await cli(['resume', run, ws]);
      assert.equal(resumed.code, 0, resumed.stderr);
      const end = await started.done;
      assert.equal(end.code, 1);
      const { status } = await getRun(box.ws, run);
      const approve = byName(status.nodes, 'approve')!;
      assert.equal(approve.phase, 'Error');
      assert.match(approve.message ?? '', /output parameter "answer" was not supplied: `distml node set/);
      assert.equal(byName(status.nodes, 'use'), undefined);
    },
  );
});
