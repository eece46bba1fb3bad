// Argo's artifacts, run for real: files and folders passed between steps through the workspace's repository,
// archive none vs tar, optional outputs, private absolute paths for steps running at once, global outputs,
// memoized steps that keep their artifacts, and identical content stored once.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { MetadataStore, type NodeRecord, type StoredArtifact } from '../../src/metadata/index.js';
import { ResourcePool } from '../../src/scheduler/index.js';
import { isolationAvailable } from '../../src/workflow/artifacts/private-paths.js';
import { ArtifactRepository } from '../../src/workflow/artifacts/repository.js';
import { executeRun, parseWorkflowYaml, runJson, submitRun } from '../../src/workflow/index.js';
import { CLI, sandbox } from './helpers.js';

const head = (name: string) => `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: ${name}-}
spec:
`;

/** Runs `yaml` (twice with the same workspace when `again`), returning the last run and its nodes. */
async function run(ws: string, yaml: string, runs = 1) {
  const store = MetadataStore.open(ws);
  try {
    let name = '';
    for (let i = 0; i < runs; i++) {
      name = submitRun(store, parseWorkflowYaml(yaml), {});
      await executeRun(name, {
        store,
        workspace: ws,
        pool: new ResourcePool({ cores: 2, memory: 1 << 30 }),
        distmlCommand: [process.execPath, CLI],
      });
    }
    const nodes = store.listNodes(name);
    return {
      run: store.getRun(name),
      nodes,
      json: runJson(store.getRun(name), nodes),
      node: (n: string) => nodes.find((x) => x.displayName === n)!,
    };
  } finally {
    store.close();
  }
}

const art = (n: NodeRecord, name: string): StoredArtifact =>
  n.outputs!.artifacts!.find((a) => a.name === name)!;
const isolation = isolationAvailable(process.env);
const needsIsolation = isolation ? false : 'absolute artifact paths need root and util-linux unshare';

describe('artifacts', { timeout: 300_000 }, () => {
  it("passes a file and a folder from one step to the next (relative paths, the step's own folder)", async () => {
    const box = sandbox();
    try {
      const r = await run(
        box.ws,
        `${head('pass')}  entrypoint: main
  templates:
    - name: main
      steps:
        - [{name: make, template: make}]
        - - name: use
            template: use
            arguments:
              artifacts:
                - {name: msg, from: '{{steps.make.outputs.artifacts.msg}}'}
                - {name: tree, from: '{{steps.make.outputs.artifacts.tree}}'}
    - name: make
      container:
        command: [sh, -c, 'echo hello > msg.txt; mkdir -p out/sub; echo a > out/a; echo c > out/sub/c']
      outputs:
        artifacts:
          - {name: msg, path: msg.txt}
          - {name: tree, path: out}
    - name: use
      inputs:
        artifacts:
          - {name: msg, path: in/message}
          - {name: tree, path: tree}
      container:
        command: [sh, -c, 'cat {{inputs.artifacts.msg.path}}; cat tree/a tree/sub/c; ls tree']
`,
      );
      assert.equal(r.run.phase, 'Succeeded', r.run.message ?? '');
      assert.equal(r.node('use').outputs!.result, 'hello\na\nc\na\nsub');
      assert.equal(art(r.node('make'), 'msg').type, 'file');
      assert.equal(art(r.node('make'), 'tree').type, 'dir');
      const shown = (
        r.json['status'] as {
          nodes: Record<string, { displayName: string; outputs?: { artifacts?: unknown[] } }>;
        }
      ).nodes;
      const make = Object.values(shown).find((n) => n.displayName === 'make')!;
      assert.equal(make.outputs!.artifacts!.length, 2, '`distml get` shows the artifacts');
    } finally {
      box.cleanup();
    }
  });

  it('stores `archive: none` as the bytes themselves, tar (the default) gzip-compressed, level 0 uncompressed', async () => {
    const box = sandbox();
    try {
      const r = await run(
        box.ws,
        `${head('archive')}  entrypoint: make
  templates:
    - name: make
      container: {command: [sh, -c, 'printf plain > f.txt']}
      outputs:
        artifacts:
          - {name: none, path: f.txt, archive: {none: {}}}
          - {name: tgz, path: f.txt}
          - {name: tar, path: f.txt, archive: {tar: {compressionLevel: 0}}}
`,
      );
      assert.equal(r.run.phase, 'Succeeded', r.run.message ?? '');
      const repo = ArtifactRepository.of(box.ws);
      const [none, tgz, tar] = ['none', 'tgz', 'tar'].map((n) => art(r.node(r.run.name), n));
      assert.deepEqual([none!.archive, tgz!.archive, tar!.archive], ['none', 'tgz', 'tar']);
      assert.equal(readFileSync(repo.blobPath(none!.digest), 'utf8'), 'plain');
      const untarred = gunzipSync(readFileSync(repo.blobPath(tgz!.digest)));
      assert.deepEqual(untarred, readFileSync(repo.blobPath(tar!.digest)), 'the same tar, compressed or not');
      assert.equal(untarred.toString('utf8', 0, 5), 'f.txt', 'the tar holds the file under its own name');
    } finally {
      box.cleanup();
    }
  });

  it('an optional output the step did not write is fine; a required one is an Error naming it', async () => {
    const box = sandbox();
    try {
      const yaml = (optional: boolean) => `${head('optional')}  entrypoint: make
  templates:
    - name: make
      container: {command: [sh, -c, 'true']}
      outputs:
        artifacts:
          - {name: maybe, path: nothing.txt, optional: ${optional}}
`;
      const ok = await run(box.ws, yaml(true));
      assert.equal(ok.run.phase, 'Succeeded');
      assert.equal(ok.node(ok.run.name).outputs!.artifacts, undefined);
      const bad = await run(box.ws, yaml(false));
      const node = bad.node(bad.run.name);
      assert.equal(node.phase, 'Error');
      assert.match(
        node.message!,
        /output artifact "maybe": the step wrote nothing at nothing\.txt \(mark it optional/,
      );
    } finally {
      box.cleanup();
    }
  });

  it('a missing required input artifact is an Error; an optional one leaves the path empty', async () => {
    const box = sandbox();
    try {
      const r = await run(
        box.ws,
        `${head('inputs')}  entrypoint: main
  templates:
    - name: main
      steps:
        - [{name: skip, template: make, when: 'false'}]
        - - name: opt
            template: opt
            arguments: {artifacts: [{name: x, from: '{{steps.skip.outputs.artifacts.x}}'}]}
          - name: req
            template: req
            arguments: {artifacts: [{name: x, from: '{{steps.skip.outputs.artifacts.x}}'}]}
    - name: make
      container: {command: [sh, -c, 'echo x > x']}
      outputs: {artifacts: [{name: x, path: x}]}
    - name: opt
      inputs: {artifacts: [{name: x, path: x, optional: true}]}
      container: {command: [sh, -c, 'test -e x && echo there || echo absent']}
    - name: req
      inputs: {artifacts: [{name: x, path: x}]}
      container: {command: [sh, -c, 'cat x']}
`,
      );
      assert.equal(r.run.phase, 'Failed');
      assert.equal(r.node('opt').outputs!.result, 'absent');
      assert.equal(r.node('req').phase, 'Error');
      assert.match(r.node('req').message!, /missing input artifact "x"/);
    } finally {
      box.cleanup();
    }
  });

  it('gives steps running at once their own copy of an absolute path', { skip: needsIsolation }, async () => {
    const box = sandbox();
    try {
      const r = await run(
        box.ws,
        `${head('private')}  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: a, template: write, arguments: {parameters: [{name: v, value: alpha}]}}
          - {name: b, template: write, arguments: {parameters: [{name: v, value: beta}]}}
        - - name: read
            template: read
            arguments: {artifacts: [{name: m, from: '{{steps.b.outputs.artifacts.out}}'}]}
    - name: write
      inputs: {parameters: [{name: v}]}
      container:
        command: [sh, -c, 'echo {{inputs.parameters.v}} > /tmp/distml-shared.txt; sleep 1; cat /tmp/distml-shared.txt']
      outputs: {artifacts: [{name: out, path: /tmp/distml-shared.txt}]}
    - name: read
      inputs: {artifacts: [{name: m, path: /tmp/distml-shared.txt}]}
      container: {command: [sh, -c, 'cat /tmp/distml-shared.txt']}
`,
      );
      assert.equal(r.run.phase, 'Succeeded', r.run.message ?? '');
      assert.equal(r.node('a').outputs!.result, 'alpha', 'a sees only what it wrote');
      assert.equal(r.node('b').outputs!.result, 'beta', 'b sees only what it wrote');
      assert.notEqual(art(r.node('a'), 'out').digest, art(r.node('b'), 'out').digest);
      assert.equal(r.node('read').outputs!.result, 'beta');
    } finally {
      box.cleanup();
    }
  });

  it('exports an artifact with globalName to workflow.outputs and the run status', async () => {
    const box = sandbox();
    try {
      const r = await run(
        box.ws,
        `${head('global')}  entrypoint: main
  templates:
    - name: main
      steps:
        - [{name: make, template: make}]
        - - name: use
            template: use
            arguments: {artifacts: [{name: g, from: '{{workflow.outputs.artifacts.shared}}'}]}
    - name: make
      container: {command: [sh, -c, 'echo -n global > g.txt']}
      outputs: {artifacts: [{name: g, path: g.txt, globalName: shared}]}
    - name: use
      inputs: {artifacts: [{name: g, path: g}]}
      container: {command: [cat, g]}
`,
      );
      assert.equal(r.run.phase, 'Succeeded', r.run.message ?? '');
      assert.equal(r.node('use').outputs!.result, 'global');
      const outputs = (r.json['status'] as { outputs?: { artifacts: { name: string; digest: string }[] } })
        .outputs;
      assert.deepEqual(
        outputs?.artifacts.map((a) => [a.name, a.digest]),
        [['shared', art(r.node('make'), 'g').digest]],
      );
    } finally {
      box.cleanup();
    }
  });

  it('a memo hit restores the artifacts without running the step, and identical content is stored once', async () => {
    const box = sandbox();
    try {
      const counter = join(box.dir, 'runs-of-make');
      const yaml = `${head('memo')}  entrypoint: main
  templates:
    - name: main
      steps:
        - [{name: make, template: make}, {name: twin, template: twin}]
        - - name: use
            template: use
            arguments: {artifacts: [{name: m, from: '{{steps.make.outputs.artifacts.m}}'}]}
    - name: make
      memoize: {key: model-v1, cache: {configMap: {name: art-cache}}}
      container: {command: [sh, -c, 'echo run >> ${counter}; mkdir m; echo weights > m/w.bin']}
      outputs: {artifacts: [{name: m, path: m}]}
    - name: twin
      container: {command: [sh, -c, 'mkdir m; echo weights > m/w.bin']}
      outputs: {artifacts: [{name: m, path: m}]}
    - name: use
      inputs: {artifacts: [{name: m, path: model}]}
      container: {command: [cat, model/w.bin]}
`;
      const r = await run(box.ws, yaml, 2);
      assert.equal(r.run.phase, 'Succeeded', r.run.message ?? '');
      assert.equal(readFileSync(counter, 'utf8'), 'run\n', 'the second run did not execute make');
      assert.equal(r.node('make').memoizationStatus?.hit, true);
      assert.equal(r.node('use').outputs!.result, 'weights', 'the consumer still reads the file');
      assert.equal(
        art(r.node('make'), 'm').digest,
        art(r.node('twin'), 'm').digest,
        'same content, same digest',
      );
      const blobs = readdirSync(join(box.ws, 'artifacts', 'sha256')).flatMap((d) =>
        readdirSync(join(box.ws, 'artifacts', 'sha256', d)),
      );
      assert.equal(blobs.length, 1, 'stored once');
    } finally {
      box.cleanup();
    }
  });
});
