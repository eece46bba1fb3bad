import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { after, describe, it } from 'node:test';
import { isolationAvailable } from '../../src/workflow/artifacts/private-paths.js';
import { byName, cli, getRun, runName, sandbox } from './helpers.js';

const box = sandbox();
after(() => box.cleanup());
const ws = `--workspace=${box.ws}`;

describe(
  'Argo node variables and private paths of a run started in the private folder',
  { timeout: 300_000 },
  () => {
    it('{{steps.X.id}} is the node id and {{steps.X.hostNodeName}} this host', async () => {
      const file = box.file(
        'ids.yaml',
        `kind: Workflow
metadata: {generateName: ids-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: prepare, template: hello}
    - - name: use
        template: show
        arguments: {parameters: [{name: id, value: "{{steps.prepare.id}}"}, {name: host, value: "{{steps.prepare.hostNodeName}}"}]}
  - name: hello
    container: {command: [echo, hi]}
  - name: show
    inputs: {parameters: [{name: id}, {name: host}]}
    container: {command: [echo, "{{inputs.parameters.id}} {{inputs.parameters.host}}"]}
`,
      );
      const r = await cli(['run', file, '--json', ws]);
      assert.equal(r.code, 0, r.stderr);
      const run = await getRun(box.ws, runName(r));
      const prepare = byName(run.status.nodes, 'prepare')!;
      const use = byName(run.status.nodes, 'use')!;
      assert.equal(use.outputs?.result, `${prepare.id} ${hostname()}`);
    });

    const skip = isolationAvailable(process.env)
      ? false
      : 'absolute artifact paths need root and util-linux unshare';
    it('a run started in /tmp still gives each step its own /tmp', { skip }, async () => {
      const name = `distml-private-${process.pid}-${Date.now()}.txt`;
      const file = box.file(
        'tmp.yaml',
        `kind: Workflow
metadata: {generateName: tmp-}
spec:
  entrypoint: write
  templates:
  - name: write
    container: {command: [sh, -c, "echo private > /tmp/${name}"]}
    outputs: {artifacts: [{name: out, path: /tmp/${name}, archive: {none: {}}}]}
`,
      );
      const r = await cli(['run', file, '--json', ws], { cwd: '/tmp' });
      assert.equal(r.code, 0, r.stderr);
      // The file went to the step's private /tmp (saved as its artifact), not to the machine's /tmp.
      assert.equal(existsSync(`/tmp/${name}`), false, `/tmp/${name} was written to the shared /tmp`);
      const run = await getRun(box.ws, runName(r));
      const write = Object.values(run.status.nodes).find((n) => n.displayName.startsWith('tmp-'))!;
      assert.equal(write.phase, 'Succeeded');
    });
  },
);
