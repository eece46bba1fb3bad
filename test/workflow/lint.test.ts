import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cli, sandbox } from './helpers.js';

const box = sandbox();
after(() => box.cleanup());

const clusterWorkflow = `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: k8s-}
spec:
  entrypoint: main
  serviceAccountName: argo
  nodeSelector: {disk: ssd}
  podGC: {strategy: OnPodCompletion}
  templates:
  - name: main
    tolerations: [{key: gpu}]
    container:
      image: busybox
      command: [echo, hi]
      resources: {limits: {cpu: "1"}}
      volumeMounts: [{name: workdir, mountPath: /mnt}]
`;

describe('distml lint', () => {
  it(
    'passes a valid workflow and lists its Kubernetes-only fields once, with paths and lines',
    { timeout: 60_000 },
    async () => {
      const r = await cli(['lint', box.file('k8s.yaml', clusterWorkflow)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /k8s\.yaml: ok/);
      for (const field of [
        'spec.serviceAccountName \\(line 6\\)',
        'spec.nodeSelector \\(line 7\\)',
        'spec.podGC \\(line 8\\)',
        'spec.templates\\[0\\].tolerations \\(line 11\\)',
        'spec.templates\\[0\\].container.resources \\(line 15\\)',
        'spec.templates\\[0\\].container.volumeMounts \\(line 16\\)',
      ]) {
        const hits = r.stdout.match(new RegExp(`note: ${field}: ignored when run locally`, 'g')) ?? [];
        assert.equal(hits.length, 1, `${field} listed once in:\n${r.stdout}`);
      }
      const run = await cli([
        'run',
        box.file('k8s-run.yaml', clusterWorkflow),
        `--workspace=${box.ws}`,
        '--json',
      ]);
      assert.equal(run.code, 0, 'the same workflow runs locally');
      const human = await cli(['run', box.file('k8s-human.yaml', clusterWorkflow), `--workspace=${box.ws}`]);
      assert.equal(human.code, 0, human.stderr);
      assert.equal(human.stderr.match(/ignored when run locally/g)?.length, 1, human.stderr);
      assert.match(human.stderr, /\n {2}spec\.nodeSelector \(line 7\)\n/);
    },
  );

  it(
    'accepts volumeClaimTemplates and archiveLocation, saying why each is left aside',
    { timeout: 60_000 },
    async () => {
      const r = await cli([
        'lint',
        box.file(
          'volumes.yaml',
          `kind: Workflow
metadata: {generateName: vol-}
spec:
  entrypoint: main
  volumeClaimTemplates: [{metadata: {name: work}, spec: {accessModes: [ReadWriteOnce]}}]
  templates:
  - name: main
    archiveLocation: {archiveLogs: true}
    container: {command: [echo, hi]}
`,
        ),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /spec\.volumeClaimTemplates \(line 5\): ignored when run locally \(Kubernetes only: no volume is created/,
      );
      assert.match(
        r.stdout,
        /spec\.templates\[0\]\.archiveLocation \(line 8\): ignored when run locally \(Kubernetes only: outputs and logs stay in the workspace\)/,
      );
    },
  );

  it('prints every problem with its YAML path and line, and exits 1', { timeout: 60_000 }, async () => {
    const bad = box.file(
      'bad.yaml',
      `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: bad-}
spec:
  entrypoint: main
  templates:
  - name: main
    sidecars: [{name: s, image: nginx}]
    dag:
      tasks:
      - {name: a, template: nope}
      - {name: b, template: main, depends: "a &&"}
`,
    );
    const good = box.file('good.yaml', clusterWorkflow);
    const r = await cli(['lint', bad, good, '--json']);
    assert.equal(r.code, 1);
    const reports = JSON.parse(r.stdout.split('\n')[0]!) as {
      file: string;
      problems: string[];
      ignored: string[];
    }[];
    assert.equal(reports.length, 2);
    assert.deepEqual(reports[0]!.problems, ['spec.templates[0] (line 7): unknown field "sidecars"']);
    assert.deepEqual(reports[1]!.problems, []);
    const semantic = await cli([
      'lint',
      box.file(
        'bad2.yaml',
        (await import('node:fs')).readFileSync(bad, 'utf8').replace(/ {4}sidecars.*\n/, ''),
      ),
    ]);
    assert.equal(semantic.code, 1);
    assert.match(semantic.stdout, /spec\.templates\[0\]\.dag\.tasks\[0\]\.template \(line 10\): .*"nope"/);
    assert.match(semantic.stdout, /spec\.templates\[0\]\.dag\.tasks\[1\]\.depends \(line 11\)/);
    assert.match(semantic.stderr, /1 of 1 workflow file\(s\) have problems/);
  });

  it('says what to do without a file, and names a file it cannot read', { timeout: 60_000 }, async () => {
    const none = await cli(['lint']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /name at least one workflow file/);
    const missing = await cli(['lint', '/nonexistent/wf.yaml']);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /\/nonexistent\/wf\.yaml: 1 problem\(s\)\n {2}cannot read: ENOENT/);
  });
});
