// The pieces under the engine's artifacts: a deterministic tar, the content-addressed repository (dedupe,
// integrity, a writer killed mid-write leaves no corrupt blob), and the plan that makes absolute paths private.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { planPrivatePaths } from '../../src/workflow/artifacts/private-paths.js';
import { parseWorkflowYaml } from '../../src/workflow/index.js';
import { ArtifactRepository, sha256 } from '../../src/workflow/artifacts/repository.js';
import { collectEntries, packTar, unpackTar } from '../../src/workflow/artifacts/tar.js';
import { restoreArtifact, saveArtifact } from '../../src/workflow/artifacts/transfer.js';
import { owned } from '../cli/run-cli.js';

const temp = () => mkdtempSync(join(tmpdir(), 'distml-art-'));

describe('artifact tar', () => {
  it('packs the same folder to the same bytes, and reads back files, folders, long names and links', () => {
    const dir = temp();
    try {
      const long = 'd'.repeat(120);
      mkdirSync(join(dir, 'x', long), { recursive: true });
      writeFileSync(join(dir, 'x', 'b.txt'), 'bee');
      writeFileSync(join(dir, 'x', long, 'deep.txt'), 'deep', { mode: 0o755 });
      symlinkSync('b.txt', join(dir, 'x', 'link'));
      const a = packTar(collectEntries(join(dir, 'x'), 'x'));
      const b = packTar(collectEntries(join(dir, 'x'), 'x'));
      assert.deepEqual(a, b, 'deterministic');
      const entries = unpackTar(a);
      assert.deepEqual(
        entries.map((e) => [e.name, e.type]),
        [
          ['x', 'dir'],
          ['x/b.txt', 'file'],
          [`x/${long}`, 'dir'],
          [`x/${long}/deep.txt`, 'file'],
          ['x/link', 'symlink'],
        ],
      );
      assert.equal(entries[3]!.data!.toString(), 'deep');
      assert.equal(entries[3]!.mode, 0o755);
      assert.equal(entries[4]!.linkname, 'b.txt');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an entry that would land outside the destination', () => {
    const evil = packTar([{ name: '../escape', type: 'file', mode: 0o644, data: Buffer.from('x') }]);
    assert.throws(() => unpackTar(evil), /outside the destination/);
  });
});

describe('artifact repository', { timeout: 120_000 }, () => {
  it('stores identical content once, names it by its SHA-256, and refuses a blob that no longer matches', async () => {
    const dir = temp();
    try {
      const repo = new ArtifactRepository(dir);
      const a = await repo.put(Buffer.from('same'));
      const b = await repo.put(Buffer.from('same'));
      assert.deepEqual(a, b);
      assert.equal(a.digest, sha256(Buffer.from('same')));
      assert.equal(readdirSync(join(dir, 'sha256', a.digest.slice(7, 9))).length, 1);
      writeFileSync(repo.blobPath(a.digest), 'tampered');
      await assert.rejects(repo.read(a.digest), /does not match its digest/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restores a folder artifact, or one file of it (subPath)', async () => {
    const dir = temp();
    try {
      const repo = new ArtifactRepository(join(dir, 'repo'));
      mkdirSync(join(dir, 'out', 'sub'), { recursive: true });
      writeFileSync(join(dir, 'out', 'sub', 'f.txt'), 'inner');
      const a = (await saveArtifact(repo, join(dir, 'out'), {
        name: 'o',
        archive: 'tar',
        node: 'r/n',
        path: 'out',
      }))!;
      await restoreArtifact(repo, a, join(dir, 'copy'));
      assert.equal(readFileSync(join(dir, 'copy', 'sub', 'f.txt'), 'utf8'), 'inner');
      await restoreArtifact(repo, a, join(dir, 'one.txt'), { subPath: 'sub/f.txt' });
      assert.equal(readFileSync(join(dir, 'one.txt'), 'utf8'), 'inner');
      assert.equal(
        await saveArtifact(repo, join(dir, 'none'), { name: 'n', archive: 'tar', node: 'r/n', path: 'none' }),
        undefined,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a writer killed mid-write leaves no corrupt blob, and the next writer sweeps what it left', async () => {
    const dir = temp();
    const repoModule = fileURLToPath(new URL('../../src/workflow/artifacts/repository.js', import.meta.url));
    // Writes fresh 32 MiB blobs one after another until it is killed.
    const script = `const { ArtifactRepository } = await import(${JSON.stringify(repoModule)});
const { randomBytes } = await import('node:crypto');
const repo = new ArtifactRepository(${JSON.stringify(dir)});
for (;;) await repo.put(randomBytes(32 << 20));`;
    const child = owned(spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' }));
    const exited = new Promise((r) => child.once('exit', r));
    const files = () => {
      try {
        return readdirSync(join(dir, 'sha256'), { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath, e.name));
      } catch {
        return [];
      }
    };
    try {
      const deadline = Date.now() + 60_000;
      while (!files().some((f) => f.includes('.tmp-')) && Date.now() < deadline) await sleep(2);
      child.kill('SIGKILL');
      await exited;
      const all = files();
      assert.ok(
        all.some((f) => f.includes('.tmp-')),
        'caught the writer mid-write',
      );
      for (const f of all.filter((p) => !p.split('/').pop()!.startsWith('.')))
        assert.equal(sha256(readFileSync(f)), `sha256:${f.split('/').pop()}`, `${f} is whole`);
      // The next blob written into the same folder sweeps the dead writer's temp file.
      const temp = all.find((f) => f.includes('.tmp-'))!;
      const prefix = temp.split('/').slice(-2)[0]!;
      let bytes: Buffer;
      do bytes = randomBytes(16);
      while (sha256(bytes).slice(7, 9) !== prefix);
      await new ArtifactRepository(dir).put(bytes);
      assert.ok(!files().includes(temp), "the dead writer's temp file is gone");
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('private artifact paths', () => {
  const o = { scratch: '/ws/runs/r/scratch/n', keep: ['/tmp/box/ws', '/work/project'], allowed: true };
  it('mounts each outermost folder once, keeps the workspace visible, and maps paths to the host', () => {
    const plan = planPrivatePaths('s', ['/tmp/a.txt', '/tmp/sub/b.txt', 'rel.txt', '/data/out/'], o);
    assert.ok(!('error' in plan));
    assert.deepEqual(plan.mounts, [
      { target: '/data/out', source: '/ws/runs/r/scratch/n/mnt/data/out', keep: [] },
      { target: '/tmp', source: '/ws/runs/r/scratch/n/mnt/tmp', keep: ['/tmp/box/ws'] },
    ]);
    assert.equal(plan.hostPath('/tmp/sub/b.txt'), '/ws/runs/r/scratch/n/mnt/tmp/sub/b.txt');
    assert.equal(plan.hostPath('/elsewhere/x'), '/elsewhere/x');
    // A run started in /tmp itself: /tmp stays private (keeping it would share it again).
    const inTmp = planPrivatePaths('s', ['/tmp/a.txt'], { ...o, keep: ['/tmp'] });
    assert.ok(!('error' in inTmp));
    assert.deepEqual(inTmp.mounts[0]!.keep, []);
  });
  it('refuses, naming the step and path, where it cannot work', () => {
    const no = planPrivatePaths('train', ['/tmp/a.txt'], { ...o, allowed: false });
    assert.match(
      (no as { error: string }).error,
      /step "train": artifact path \/tmp\/a.txt is absolute.*mount namespace.*relative path/,
    );
    const root = planPrivatePaths('s', ['/result.txt'], o);
    assert.match(
      (root as { error: string }).error,
      /directly in \/, which cannot be made private.*\/tmp\/result.txt/,
    );
    const rel = planPrivatePaths('s', ['rel'], { ...o, allowed: false });
    assert.ok(!('error' in rel) && rel.mounts.length === 0, 'relative paths need no namespace');
  });
});

describe('artifact references in a spec', () => {
  const spec = (call: string, extra = '') => `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: refs-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - [{name: make, template: make}]
        - [${call}]
    - name: make
      container: {command: [sh, -c, 'echo > f']}
      outputs: {artifacts: [{name: f, path: f${extra}}]}
    - name: use
      inputs: {artifacts: [{name: f, path: f}]}
      container: {command: [cat, f]}
`;
  it('accepts a call that passes an artifact some earlier step makes', () => {
    parseWorkflowYaml(
      spec(
        `{name: use, template: use, arguments: {artifacts: [{name: f, from: '{{steps.make.outputs.artifacts.f}}'}]}}`,
      ),
    );
  });
  it('names an unknown output artifact, a missing required one, and a bad archive', () => {
    assert.throws(
      () =>
        parseWorkflowYaml(
          spec(
            `{name: use, template: use, arguments: {artifacts: [{name: f, from: '{{steps.make.outputs.artifacts.nope}}'}]}}`,
          ),
        ),
      /template "make" has no output artifact "nope"/,
    );
    assert.throws(
      () => parseWorkflowYaml(spec('{name: use, template: use}')),
      /missing artifact "f" required by template "use"/,
    );
    assert.throws(
      () => parseWorkflowYaml(spec('{name: use, template: use}', ', archive: {zip: {}}')),
      /archive/,
    );
  });
});
