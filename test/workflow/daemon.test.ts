import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { byName, cli, getRun, runName, sandbox } from './helpers.js';

describe('daemon steps', { timeout: 900_000 }, () => {
  const box = sandbox();
  after(box.cleanup);

  it('keep their scratch dir (their cwd) while they run, so the processes they start later can too', async () => {
    const probe = join(box.dir, 'probe.txt');
    const go = join(box.dir, 'probe.go');
    // The daemon is ready at its first line, then checks its cwd once the next step has started (signalled by
    // a file, not guessed with a timer), and that step ends once the check is written.
    // Node caches its own cwd, so the probe is a child process started after the next step has started: it
    // inherits the daemon's cwd and fails at start-up if that was removed.
    const daemon = `console.log('ready'); const fs = require('fs'); const t = setInterval(() => { if (!fs.existsSync(process.argv[2])) return; clearInterval(t); let s; try { require('child_process').execFileSync(process.execPath, ['-e', 'process.cwd()'], { stdio: 'ignore' }); s = 'cwd ok'; } catch { s = 'cwd gone'; } fs.writeFileSync(process.argv[1], s); }, 50); setInterval(() => {}, 1000);`;
    const wait = `const fs = require('fs'); fs.writeFileSync(process.argv[1], ''); setInterval(() => fs.existsSync(process.argv[2]) && process.exit(0), 50); setTimeout(() => process.exit(3), 120000);`;
    const file = box.file(
      'daemon.yaml',
      `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: daemon-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: server, template: server}
        - - {name: wait, template: wait}
    - name: server
      daemon: true
      container:
        command: [node, -e, ${JSON.stringify(daemon)}, ${JSON.stringify(probe)}, ${JSON.stringify(go)}]
    - name: wait
      container:
        command: [node, -e, ${JSON.stringify(wait)}, ${JSON.stringify(go)}, ${JSON.stringify(probe)}]
`,
    );
    const r = await cli(['run', file, '--json', `--workspace=${box.ws}`]);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.equal(readFileSync(probe, 'utf8'), 'cwd ok');
    const { status } = await getRun(box.ws, runName(r));
    assert.equal(byName(status.nodes, 'server')?.phase, 'Succeeded');
  });

  it('start as soon as their own dependencies are met; with --sync, only after all the batch work', async () => {
    // `slow` ends only once the server has started (async) — or, with --sync, the server starts only once
    // `slow` has ended. `client` needs the server; it is not batch work, so --sync does not wait for it.
    const flag = join(box.dir, 'server-started');
    const file = box.file(
      'sync.yaml',
      `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: sync-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: gate, value: "true"}]}
  templates:
    - name: main
      dag:
        tasks:
          - {name: fast, template: sh, arguments: {parameters: [{name: cmd, value: "true"}]}}
          - name: slow
            template: sh
            arguments:
              parameters:
                - name: cmd
                  value: 'if [ {{workflow.parameters.gate}} = true ]; then i=0; until [ -f ${flag} ]; do sleep 0.1; i=$((i+1)); [ $i -lt 1200 ] || exit 3; done; fi'
          - {name: server, template: server, depends: fast}
          - {name: client, template: sh, depends: server, arguments: {parameters: [{name: cmd, value: "true"}]}}
    - name: sh
      inputs: {parameters: [{name: cmd}]}
      container: {command: [sh, -c, "{{inputs.parameters.cmd}}"]}
    - name: server
      daemon: true
      container: {command: [sh, -c, "touch ${flag}; echo listening; sleep 600"]}
`,
    );
    const async = await cli(['run', file, '--json', `--workspace=${box.ws}`]);
    assert.equal(async.code, 0, async.stderr.slice(-2000));

    const sync = await cli(['run', file, '--sync', '-p', 'gate=false', '--json', `--workspace=${box.ws}`]);
    assert.equal(sync.code, 0, sync.stderr.slice(-2000));
    const { status } = await getRun(box.ws, runName(sync));
    const at = (n: string, k: 'startedAt' | 'finishedAt') => Date.parse(byName(status.nodes, n)![k]!);
    assert.ok(at('server', 'startedAt') >= at('slow', 'finishedAt'), 'the server waited for the batch work');
    assert.equal(byName(status.nodes, 'client')?.phase, 'Succeeded');
    const run = JSON.parse(
      (await cli(['get', runName(sync), '-o', 'json', `--workspace=${box.ws}`])).stdout,
    ) as {
      metadata: { annotations?: Record<string, string> };
    };
    assert.equal(run.metadata.annotations?.['workflows.distml.io/sync'], 'true', 'saved with the run');
  });

  it('run --detach returns once the first daemon is up, with the run still going', async () => {
    const file = box.file(
      'detach.yaml',
      `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: detach-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: warm-up, template: warm-up}
        - - {name: server, template: server}
        - - {name: forever, template: forever}
    - name: warm-up
      container:
        command: [node, -e, "setTimeout(() => {}, 1000)"]
    - name: server
      daemon: true
      container:
        command: [node, -e, "console.log('listening'); setInterval(() => {}, 1000)"]
    - name: forever
      container:
        command: [node, -e, "setInterval(() => {}, 1000)"]
`,
    );
    const t0 = Date.now();
    const r = await cli(['run', file, '--detach', '--json', `--workspace=${box.ws}`]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { run: string; phase: string; serving: { step: string }[] };
    // The run goes on in the background: it is stopped whatever the assertions say.
    let stopped = false;
    try {
      assert.ok(Date.now() - t0 >= 900, 'waited for the warm-up step and the server');
      assert.deepEqual(
        out.serving.map((s) => s.step),
        ['server'],
      );
      assert.equal(out.phase, 'Running');
      const stop = await cli(['stop', out.run, `--workspace=${box.ws}`]);
      stopped = true;
      assert.equal(stop.code, 0, stop.stderr);
    } finally {
      if (!stopped) await cli(['stop', out.run, `--workspace=${box.ws}`]);
    }
  });
});
