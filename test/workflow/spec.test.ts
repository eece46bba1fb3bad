import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRunName, parseWorkflowYaml, WorkflowError } from '../../src/workflow/index.js';
import { parseDepends, evalDepends } from '../../src/workflow/expr/depends.js';
import { evalWhen } from '../../src/workflow/expr/when.js';
import { parseDuration } from '../../src/workflow/expr/quantity.js';

const wf = (templates: string, extra = '') => `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: t-}
spec:
  entrypoint: main
${extra}  templates:
${templates}`;

const echo = `  - name: echo
    container: {command: [echo, hi]}
`;

function problems(yaml: string): string[] {
  try {
    parseWorkflowYaml(yaml);
  } catch (err) {
    assert.ok(err instanceof WorkflowError);
    assert.equal(err.code, 'WORKFLOW_SPEC_INVALID');
    return err.problems;
  }
  assert.fail('expected the spec to be rejected');
}

describe('workflow spec', () => {
  it('parses a valid DAG with fan-out, memoize and retries', () => {
    const spec = parseWorkflowYaml(
      wf(`  - name: main
    dag:
      tasks:
      - {name: a, template: echo}
      - {name: b, template: echo, depends: "a.Succeeded || a.Failed", withItems: [1, 2]}
${echo}`),
    );
    assert.equal(spec.spec.templates.length, 2);
    assert.deepEqual(spec.spec.templates[0]?.dag?.tasks[1]?.withItems, [1, 2]);
  });

  it('rejects a dependency cycle naming the cycle and its path', () => {
    const p = problems(
      wf(`  - name: main
    dag:
      tasks:
      - {name: a, template: echo, dependencies: [c]}
      - {name: b, template: echo, dependencies: [a]}
      - {name: c, template: echo, dependencies: [b]}
${echo}`),
    );
    assert.equal(p.length, 1);
    assert.match(
      p[0]!,
      /^spec\.templates\[0\]\.dag \(line \d+\): dependency cycle: (a|b|c) -> \w -> \w -> \1$/,
    );
  });

  it('rejects an unknown template with its path and the known names', () => {
    const p = problems(
      wf(`  - name: main
    steps:
    - - {name: a, template: nope}
${echo}`),
    );
    assert.match(
      p[0]!,
      /^spec\.templates\[0\]\.steps\[0\]\[0\]\.template \(line 9\): unknown template "nope" \(templates: main, echo\)/,
    );
  });

  it('rejects a bad depends expression at spec.templates[i].dag.tasks[j].depends', () => {
    const p = problems(
      wf(`  - name: main
    dag:
      tasks:
      - {name: a, template: echo}
      - {name: b, template: echo, depends: "a.Succeeded &&"}
${echo}`),
    );
    assert.match(p[0]!, /^spec\.templates\[0\]\.dag\.tasks\[1\]\.depends \(line \d+\): bad expression/);
  });

  it('rejects missing parameters and unknown variables', () => {
    const p = problems(
      wf(`  - name: main
    steps:
    - - {name: a, template: greet}
    - - {name: b, template: greet, arguments: {parameters: [{name: who, value: "{{steps.zzz.outputs.result}}"}]}}
  - name: greet
    inputs: {parameters: [{name: who}]}
    container: {command: [echo, "{{inputs.parameters.who}} {{workflow.parameters.nope}}"]}
`),
    );
    assert.ok(
      p.some((m) => /steps\[0\]\[0\]\.arguments.*missing parameter "who"/.test(m)),
      p.join('\n'),
    );
    assert.ok(
      p.some((m) =>
        /steps\[1\]\[0\]\.arguments\.parameters\[0\]\.value.*no earlier step named "zzz"/.test(m),
      ),
      p.join('\n'),
    );
    assert.ok(
      p.some((m) => /container\.command\[1\].*unknown workflow parameter "nope"/.test(m)),
      p.join('\n'),
    );
  });

  it('run names, generateName and step names must be one safe path segment', () => {
    const bad = ['../../etc', 'a/b', '.hidden', '', 'x'.repeat(129)];
    for (const step of bad) {
      const p = problems(
        wf(`  - name: main
    steps:
    - - {name: ${JSON.stringify(step)}, template: echo}
${echo}`),
      );
      assert.match(p.join('\n'), /steps\[0\]\[0\]\.name .*must be letters, digits/, `step name ${step}`);
    }
    for (const generateName of ['../../etc/x-', 'runs/x-', '.x-', 'y'.repeat(101)]) {
      const yaml = wf(`  - name: main\n    container: {command: [echo]}\n`).replace(
        'metadata: {generateName: t-}',
        `metadata: {generateName: ${JSON.stringify(generateName)}}`,
      );
      assert.match(problems(yaml).join('\n'), /metadata\.generateName.*the run is named after it/);
    }
    assert.equal(checkRunName('train-ab12c'), 'train-ab12c');
    for (const run of ['../x', 'a/b', '', '-x'])
      assert.throws(
        () => checkRunName(run),
        (e: unknown) =>
          e instanceof WorkflowError && e.code === 'WORKFLOW_RUN_BAD_NAME' && /not allowed/.test(e.message),
      );
  });

  it('reports YAML syntax errors with a line', () => {
    const p = problems('kind: Workflow\nspec: [unclosed\n');
    assert.match(p[0]!, /^line \d+/);
  });
});

describe('expressions', () => {
  it('evaluates depends like Argo', () => {
    const phases: Record<string, string> = { a: 'Succeeded', b: 'Failed', c: 'Skipped' };
    const o = (t: string) => ({ phase: phases[t]!, itemPhases: [] });
    assert.equal(evalDepends(parseDepends('a && c'), o), true);
    assert.equal(evalDepends(parseDepends('a && b'), o), false);
    assert.equal(evalDepends(parseDepends('b.Failed || !(a)'), o), true);
  });

  it('evaluates when conditions with numbers and strings', () => {
    assert.equal(evalWhen('heads == heads'), true);
    assert.equal(evalWhen("0.93 >= 0.9 && 'a b' != 'a'"), true);
    assert.equal(evalWhen('10 > 9'), true);
    assert.equal(evalWhen('!(tails == heads)'), true);
    assert.throws(() => evalWhen('a =='));
  });

  it('parses durations', () => {
    assert.equal(parseDuration('10s'), 10_000);
    assert.equal(parseDuration('7d'), 604_800_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.deepEqual(['500ms', '1.5m', '3'].map(parseDuration), [500, 90_000, 3000]);
    assert.throws(() => parseDuration('soon'));
  });
});
