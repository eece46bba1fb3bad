import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { byName, cli, getRun, runName, sandbox } from './helpers.js';

const box = sandbox();
after(() => box.cleanup());
const ws = `--workspace=${box.ws}`;

const echo = `  - name: echo
    inputs: {parameters: [{name: n}]}
    container: {command: [echo, "{{inputs.parameters.n}}"]}
`;

describe("Argo's expression tags and regex conditions in a real run", () => {
  it(
    'fans out over an expression, computes arguments, reads JSON, and gates on expressions and =~ / !~',
    { timeout: 120_000 },
    async () => {
      const file = box.file(
        'expr.yaml',
        `kind: Workflow
metadata: {generateName: expr-}
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: config, value: '{"a": "1", "employees": [{"name": "Baris", "age": 43}]}'}
  templates:
  - name: main
    dag:
      tasks:
      - name: fan
        template: echo
        withParam: "{{=toJson(filter([1, 3, 5], {# > 1}))}}"
        arguments: {parameters: [{name: n, value: "{{=asInt(item) * 10}}"}]}
      - name: pick
        template: echo
        arguments: {parameters: [{name: n, value: "{{=jsonpath(workflow.parameters.config, '$.a')}}"}]}
      - name: ages
        template: echo
        arguments:
          parameters:
          - {name: n, value: "{{=jsonpath(workflow.parameters.config, '$.employees[?(@.age > 42)].name')}}"}
      - name: gated
        depends: pick
        template: echo
        when: "{{=tasks.pick.outputs.result == '1' && sprig.upper('x') == 'X'}}"
        arguments: {parameters: [{name: n, value: "{{=tasks['pick'].outputs.result + '!'}}"}]}
      - name: matched
        depends: pick
        template: echo
        when: "{{tasks.pick.outputs.result}} =~ '^1$'"
        arguments: {parameters: [{name: n, value: matched}]}
      - name: unmatched
        depends: pick
        template: echo
        when: "{{tasks.pick.outputs.result}} !~ 1"
        arguments: {parameters: [{name: n, value: unmatched}]}
${echo}`,
      );
      const r = await cli(['run', file, '--json', ws]);
      assert.equal(r.code, 0, r.stderr);
      const run = await getRun(box.ws, runName(r));
      assert.equal(run.status.phase, 'Succeeded');
      const nodes = run.status.nodes;
      const fanned = Object.values(nodes)
        .filter((n) => n.displayName.startsWith('fan('))
        .map((n) => n.outputs?.result)
        .sort();
      assert.deepEqual(fanned, ['30', '50']);
      assert.equal(byName(nodes, 'pick')?.outputs?.result, '1');
      assert.equal(byName(nodes, 'ages')?.outputs?.result, '["Baris"]');
      assert.equal(byName(nodes, 'gated')?.outputs?.result, '1!');
      assert.equal(byName(nodes, 'matched')?.phase, 'Succeeded');
      assert.equal(byName(nodes, 'unmatched')?.phase, 'Skipped');
    },
  );

  it(
    'refuses a workflow whose expression tag does not parse, naming where',
    { timeout: 60_000 },
    async () => {
      const file = box.file(
        'bad-expr.yaml',
        `kind: Workflow
metadata: {generateName: bad-expr-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: echo, arguments: {parameters: [{name: n, value: "{{=1 + }}"}]}}
${echo}`,
      );
      const r = await cli(['run', file, ws]);
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /spec\.templates\[0\]\.steps\[0\]\[0\]\.arguments.*expression \{\{=1 \+\}\}: ends too early/s,
      );
    },
  );
});
