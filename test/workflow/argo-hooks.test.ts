import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { parseWorkflowYaml } from '../../src/workflow/index.js';
import { byName, cli, getRun, runName, sandbox } from './helpers.js';

const box = sandbox();
after(() => box.cleanup());
const ws = `--workspace=${box.ws}`;

async function run(name: string, spec: string) {
  const file = box.file(`${name}.yaml`, `kind: Workflow\nmetadata: {generateName: ${name}-}\nspec:\n${spec}`);
  const r = await cli(['run', file, '--json', ws]);
  const { status } = await getRun(box.ws, runName(r));
  return { code: r.code, stderr: r.stderr, phase: status.phase, nodes: status.nodes };
}

const note = `  - name: note
    inputs: {parameters: [{name: msg}]}
    container: {command: [echo, "{{inputs.parameters.msg}}"]}
`;
const result = (
  nodes: Record<string, { displayName: string; outputs?: { result?: string } }>,
  name: string,
) =>
  Object.values(nodes).find((n) => n.displayName === name || n.displayName.endsWith(name))?.outputs?.result;

describe('Argo lifecycle hooks and inline templates', () => {
  it(
    "runs a step's exit hook after it, with its outputs, and its expression hooks when they are true",
    { timeout: 60_000 },
    async () => {
      const r = await run(
        'stephooks',
        `  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: a
        template: note
        arguments: {parameters: [{name: msg, value: from-a}]}
        hooks:
          exit: {template: note, arguments: {parameters: [{name: msg, value: "a ended {{steps.a.status}} {{steps.a.outputs.result}}"}]}}
          started: {expression: 'steps.a.status == "Running"', template: note, arguments: {parameters: [{name: msg, value: a-started}]}}
          done: {expression: 'steps.a.status == "Succeeded"', template: note, arguments: {parameters: [{name: msg, value: a-done}]}}
          never: {expression: 'steps.a.status == "Failed"', template: note, arguments: {parameters: [{name: msg, value: a-failed}]}}
    - - name: b
        template: fail
        continueOn: {failed: true}
        hooks:
          exit: {template: note, arguments: {parameters: [{name: msg, value: "b ended {{steps.b.status}}"}]}}
          broken-hook: {expression: 'true', template: fail}
${note}  - name: fail
    container: {command: [sh, -c, "exit 3"]}
`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(result(r.nodes, 'a.hooks.exit'), 'a ended Succeeded from-a');
      assert.equal(result(r.nodes, 'a.hooks.started'), 'a-started');
      assert.equal(result(r.nodes, 'a.hooks.done'), 'a-done');
      assert.equal(byName(r.nodes, 'a.hooks.never'), undefined);
      assert.equal(result(r.nodes, 'b.hooks.exit'), 'b ended Failed');
      // A hook that fails is recorded, and changes nothing for the step it hooks.
      assert.equal(byName(r.nodes, 'b.hooks.broken-hook')?.phase, 'Failed');
      assert.equal(byName(r.nodes, 'b')?.phase, 'Failed');
      // The exit hook starts only once its step has ended.
      const a = byName(r.nodes, 'a')!;
      const exit = byName(r.nodes, 'a.hooks.exit')!;
      assert.ok(Date.parse(exit.startedAt!) >= Date.parse(a.finishedAt!));
    },
  );

  it(
    'runs DAG task hooks, and workflow hooks: the exit hook with arguments, an expression hook',
    { timeout: 60_000 },
    async () => {
      const r = await run(
        'wfhooks',
        `  entrypoint: main
  hooks:
    exit: {template: note, arguments: {parameters: [{name: msg, value: "workflow {{workflow.status}}"}]}}
    running: {expression: 'workflow.status == "Running"', template: note, arguments: {parameters: [{name: msg, value: wf-running}]}}
    failed: {expression: 'workflow.status == "Failed"', template: note, arguments: {parameters: [{name: msg, value: wf-failed}]}}
  templates:
  - name: main
    dag:
      tasks:
      - name: t
        template: note
        arguments: {parameters: [{name: msg, value: t}]}
        hooks:
          exit: {template: note, arguments: {parameters: [{name: msg, value: "t {{tasks.t.status}}"}]}}
${note}`,
      );
      assert.equal(r.code, 0, r.stderr);
      const exitNode = Object.values(r.nodes).find((n) => n.displayName.endsWith('.onExit'));
      assert.equal(exitNode?.outputs?.result, 'workflow Succeeded');
      assert.equal(result(r.nodes, '.hooks.running'), 'wf-running');
      assert.equal(result(r.nodes, '.hooks.failed'), undefined);
      assert.equal(result(r.nodes, 't.hooks.exit'), 't Succeeded');
    },
  );

  it(
    "runs a task's onExit after it, and publishes outputs with a globalName to later steps",
    { timeout: 60_000 },
    async () => {
      const r = await run(
        'globals',
        `  entrypoint: main
  hooks:
    exit: {template: note, arguments: {parameters: [{name: msg, value: "final {{workflow.outputs.parameters.shared}}"}]}}
  templates:
  - name: main
    dag:
      tasks:
      - {name: make, template: make, onExit: bye}
      - {name: read, template: note, depends: make, arguments: {parameters: [{name: msg, value: "got {{workflow.outputs.parameters.shared}}"}]}}
  - name: make
    container: {command: [sh, -c, "echo -n 42 > out.txt"]}
    outputs: {parameters: [{name: v, globalName: shared, valueFrom: {path: out.txt}}]}
  - name: bye
    container: {command: [echo, bye]}
${note}`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(result(r.nodes, 'make.hooks.exit'), 'bye');
      assert.equal(result(r.nodes, 'read'), 'got 42');
      assert.equal(result(r.nodes, '.onExit'), 'final 42');
    },
  );

  it(
    "stops a fan-out at its first failure under the template's failFast, and names nodes by display-name",
    { timeout: 60_000 },
    async () => {
      const r = await run(
        'failfast',
        `  entrypoint: main
  templates:
  - name: main
    parallelism: 1
    failFast: true
    steps:
    - - {name: item, template: code, withItems: ["0", "1", "0"], arguments: {parameters: [{name: c, value: "{{item}}"}]}}
  - name: code
    inputs: {parameters: [{name: c}]}
    annotations: {workflows.argoproj.io/display-name: "exit-{{inputs.parameters.c}}"}
    container: {command: [sh, -c, "exit {{inputs.parameters.c}}"]}
`,
      );
      assert.equal(r.code, 1);
      const items = Object.values(r.nodes).filter((n) => n.displayName.startsWith('exit-'));
      assert.deepEqual(items.map((n) => `${n.displayName} ${n.phase}`).sort(), [
        'exit-0 Succeeded',
        'exit-1 Failed',
      ]);
    },
  );

  it('runs inline templates of steps and DAG tasks', { timeout: 60_000 }, async () => {
    const r = await run(
      'inline',
      `  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: s
        inline: {container: {command: [echo, inline-step]}}
    - - name: d
        template: graph
  - name: graph
    dag:
      tasks:
      - name: k
        arguments: {parameters: [{name: x, value: "{{workflow.name}}"}]}
        inline:
          inputs: {parameters: [{name: x}]}
          script: {command: [sh], source: 'echo "task of {{inputs.parameters.x}}"'}
`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(result(r.nodes, 's'), 'inline-step');
    assert.match(result(r.nodes, 'k') ?? '', /^task of inline-/);
  });

  it(
    'resolves a template timeout given as a tag, and input defaults that use workflow variables',
    { timeout: 60_000 },
    async () => {
      const r = await run(
        'tagged',
        `  entrypoint: main
  arguments: {parameters: [{name: greeting, value: hi}]}
  templates:
  - name: main
    steps:
    - - {name: quick, template: sleepy, arguments: {parameters: [{name: timeout, value: 1s}]}}
      - {name: greet, template: greet}
  - name: sleepy
    timeout: "{{inputs.parameters.timeout}}"
    inputs: {parameters: [{name: timeout}]}
    container: {command: [sleep, "30"]}
  - name: greet
    inputs: {parameters: [{name: text, value: "{{workflow.parameters.greeting}} there"}]}
    container: {command: [echo, "{{inputs.parameters.text}}"]}
`,
      );
      assert.equal(r.code, 1);
      assert.match(byName(r.nodes, 'quick')?.message ?? '', /timeout 1s/);
      assert.equal(result(r.nodes, 'greet'), 'hi there');
    },
  );

  it('refuses hooks it cannot run, naming where they are', () => {
    const problems = (spec: string) => {
      try {
        parseWorkflowYaml(`kind: Workflow\nspec:\n${spec}`);
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    const base = `  templates:
  - name: main
    steps:
    - - name: a
        template: note
        arguments: {parameters: [{name: msg, value: x}]}
${note}`;
    assert.match(
      problems(`  entrypoint: main\n  onExit: note\n  hooks: {exit: {template: note}}\n${base}`),
      /spec\.hooks\.exit.*set either spec\.onExit or spec\.hooks\.exit/,
    );
    assert.match(
      problems(
        `  entrypoint: main\n  hooks: {soon: {template: note, arguments: {parameters: [{name: msg, value: y}]}}}\n${base}`,
      ),
      /spec\.hooks\.soon.*needs an expression/,
    );
    assert.match(
      problems(`  entrypoint: main\n  hooks: {exit: {template: nope}}\n${base}`),
      /spec\.hooks\.exit\.template.*unknown template "nope"/,
    );
    assert.match(
      problems(`  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: note, onExit: note, hooks: {exit: {template: note}}, arguments: {parameters: [{name: msg, value: x}]}}
      - {name: b, template: note, arguments: {parameters: [{name: msg, value: "{{workflow.outputs.parameters.nope}}"}]}}
${note}`),
      /steps\[0\]\[0\]\.onExit.*set either onExit or hooks\.exit[\s\S]*no output parameter has globalName "nope"/,
    );
    assert.match(
      problems(`  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: s
        inline: {container: {command: [echo]}, bogus: 1}
`),
      /spec\.templates\[0\]\.steps\[0\]\[0\]\.inline.*unknown field "bogus"/,
    );
    assert.match(
      problems(`  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: s
        template: main
        inline: {container: {command: [echo]}}
`),
      /steps\[0\]\[0\].*set either template or inline, not both/,
    );
  });
});
