import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify } from '../../bench/argo-examples/classify.js';

const onPath = new Set(['sh', 'echo', 'python', 'true']);
const has = (p: string) => onPath.has(p);

const wf = (templates: unknown[], extra: Record<string, unknown> = {}, labels?: Record<string, string>) => ({
  kind: 'Workflow',
  metadata: { generateName: 'x-', ...(labels ? { labels } : {}) },
  spec: { entrypoint: templates.length ? 'a' : '', templates, ...extra },
});
const sh = (args: string[], image = 'alpine:3.23') => ({
  name: 'a',
  container: { image, command: ['sh', '-c'], args },
});

describe("which of Argo's examples run locally, and what Argo's e2e expects of them", () => {
  it('expects Succeeded unless labelled expected-failure, and skips what Argo skips', () => {
    assert.deepEqual(classify(wf([sh(['echo hi'])]), has), { run: true, expect: 'Succeeded' });
    const failing = wf([sh(['exit 1'])], {}, { 'workflows.argoproj.io/no-test': 'expected-failure' });
    assert.deepEqual(classify(failing, has), { run: true, expect: 'Failed' });
    const flaky = wf([sh(['echo'])], {}, { 'workflows.argoproj.io/no-test': 'flaky' });
    assert.equal(classify(flaky, has).run, false);
    assert.deepEqual(classify(flaky, has, { withSkipped: true }), {
      run: true,
      expect: 'Succeeded',
      skippedByArgo: 'flaky',
    });
  });

  it('excludes what needs Kubernetes objects, an image, a sidecar or an artifact store, saying why', () => {
    const reason = (doc: unknown) => {
      const v = classify(doc, has);
      return v.run ? 'runs' : v.reason;
    };
    assert.match(reason({ kind: 'CronWorkflow' }), /a CronWorkflow, not a Workflow/);
    assert.match(reason(wf([{ name: 'a', resource: { action: 'create' } }])), /resource template/);
    assert.match(reason(wf([sh(['echo'])], { volumeClaimTemplates: [{}] })), /volumeClaimTemplates/);
    assert.match(reason(wf([{ ...sh(['x']), sidecars: [{ name: 's' }] }])), /sidecar/);
    assert.match(
      reason(wf([{ ...sh(['x']), outputs: { artifacts: [{ name: 'o', s3: { key: 'k' } }] } }])),
      /external artifact store/,
    );
    // Artifacts without an external store go through the local repository: the example runs.
    assert.equal(
      reason(wf([{ ...sh(['x']), outputs: { artifacts: [{ name: 'o', path: '/tmp/o' }] } }])),
      'runs',
    );
    assert.match(reason(wf([sh(['cowsay hello'], 'docker/whalesay')])), /image-specific program "cowsay"/);
    assert.match(
      reason(wf([{ name: 'a', container: { image: 'argoproj/argosay:v2' } }])),
      /image entrypoint \(argoproj\/argosay:v2\) with no command/,
    );
    assert.match(
      reason(wf([{ name: 'a', steps: [[{ name: 's', templateRef: { name: 't' } }]] }])),
      /templateRef/,
    );
    // A generic image running a program this machine has is run, whatever the image.
    assert.equal(
      reason(
        wf([{ name: 'a', script: { image: 'python:alpine3.23', command: ['python'], source: 'print(1)' } }]),
      ),
      'runs',
    );
  });
});
