import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  latestVersion,
  listVersions,
  publish,
  RegistryError,
  select,
  selectionTargets,
  testSplit,
} from '../../src/registry/index.js';
import {
  ATTESTATION,
  attestScore,
  SCORE_KEY_FILE,
  workspaceScoreKey,
  type Manifest,
} from '../../src/models/index.js';
import { writeDataset } from '../data/fixtures.js';
import { makePackage, tempDir } from '../serve/fixtures.js';

describe('model repository', () => {
  const tmp = tempDir('distml-registry-');
  after(() => tmp.cleanup());

  it('publishes packages as consecutive integer versions with provenance in model.json', async () => {
    const repo = join(tmp.dir, 'repo1');
    assert.deepEqual(await listVersions(repo, 'm'), []);
    assert.equal(await latestVersion(repo, 'm'), undefined);
    const pkg = await makePackage(join(tmp.dir, 'pkg1'), 1);
    const a = await publish(repo, 'm', pkg, { note: 'first' });
    const b = await publish(repo, 'm', pkg);
    assert.deepEqual([a.version, b.version], [1, 2]);
    assert.equal(a.path, join(repo, 'm', '1'));
    // Non-integer and hidden folders are not versions (TF Serving's rule).
    await mkdir(join(repo, 'm', 'tmp'));
    await mkdir(join(repo, 'm', '.publish-x'));
    assert.deepEqual(await listVersions(repo, 'm'), [1, 2]);
    assert.equal(await latestVersion(repo, 'm'), 2);
    const manifest = JSON.parse(await readFile(join(repo, 'm', '1', 'model.json'), 'utf8')) as {
      lineage: { seed: number; registry: Record<string, unknown> };
    };
    assert.equal(manifest.lineage.seed, 1); // the package's own lineage is kept
    assert.equal(manifest.lineage.registry.note, 'first');
    assert.equal(manifest.lineage.registry.version, 1);
    assert.equal(manifest.lineage.registry.source, pkg);
  });

  it('gives concurrent publishers distinct versions and leaves no temp folders', async () => {
    const repo = join(tmp.dir, 'repo2');
    const pkg = await makePackage(join(tmp.dir, 'pkg2'), 2);
    const got = await Promise.all(Array.from({ length: 5 }, () => publish(repo, 'm', pkg)));
    assert.deepEqual(got.map((p) => p.version).sort(), [1, 2, 3, 4, 5]);
    assert.deepEqual((await readdir(join(repo, 'm'))).sort(), ['1', '2', '3', '4', '5']);
  });

  it('refuses a broken package without creating a version', async () => {
    const repo = join(tmp.dir, 'repo3');
    const bad = join(tmp.dir, 'bad');
    await mkdir(bad);
    await writeFile(join(bad, 'model.json'), '{}');
    await assert.rejects(publish(repo, 'm', bad), /model\.json/);
    assert.deepEqual(await listVersions(repo, 'm'), []);
  });

  it('rejects model names that are not one safe path segment', async () => {
    for (const name of ['../x', 'a/b', '.hidden', '']) {
      await assert.rejects(publish(join(tmp.dir, 'r'), name, tmp.dir), (e: unknown) => {
        return e instanceof RegistryError && e.code === 'REGISTRY_BAD_NAME';
      });
    }
  });
});

describe('model selection', () => {
  const tmp = tempDir('distml-select-');
  const data = join(tmp.dir, 'data');
  after(() => tmp.cleanup());
  const base = () => ({ workspace: join(tmp.dir, 'ws'), source: data, cache: 'none' as const });

  it('ranks candidates by test accuracy and publishes the best as the next version', async () => {
    await mkdir(data, { recursive: true });
    writeDataset(data, 10, 40);
    const candidates = await Promise.all([1, 2, 3].map((s) => makePackage(join(tmp.dir, `c${s}`), s)));
    const repo = join(tmp.dir, 'repo');
    const r = await select({ ...base(), candidates, repo, name: 'best' });
    assert.deepEqual(
      r.candidates.map((c) => c.rank),
      [1, 2, 3],
    );
    for (let i = 1; i < 3; i++) assert.ok(r.candidates[i - 1]!.accuracy >= r.candidates[i]!.accuracy);
    assert.equal(r.candidates[0]?.count, 40);
    assert.deepEqual(r.published, [{ name: 'best', version: 1, path: join(repo, 'best', '1') }]);
    const m = JSON.parse(await readFile(join(repo, 'best', '1', 'model.json'), 'utf8')) as {
      lineage: {
        registry: { selection: { rank: number; accuracy: number; candidates: unknown[] }; source: string };
      };
    };
    assert.equal(m.lineage.registry.selection.rank, 1);
    assert.equal(m.lineage.registry.selection.accuracy, r.candidates[0]?.accuracy);
    assert.equal(m.lineage.registry.selection.candidates.length, 3);
    assert.equal(m.lineage.registry.source, r.candidates[0]?.path);
    // Selecting again makes version 2.
    const again = await select({ ...base(), candidates, repo, name: 'best' });
    assert.equal(again.published[0]?.version, 2);
  });

  it('--only-if-better publishes a candidate only when it beats the newest version', async () => {
    const candidates = await Promise.all([1, 2, 3].map((s) => makePackage(join(tmp.dir, `c${s}`), s)));
    const first = await select({ ...base(), candidates, repo: join(tmp.dir, 'repo-b'), name: 'm' });
    const scores = first.candidates;
    const worst = scores[scores.length - 1]!;
    const repo = join(tmp.dir, 'repo-better');
    // Serve the middle candidate first; the worst must not replace it, the best must.
    await select({ ...base(), candidates: [scores[1]!.path], repo, name: 'm' });
    const kept = await select({ ...base(), candidates: [worst.path], repo, name: 'm', onlyIfBetter: true });
    // Ranked worse than the middle one (accuracy, then loss): never strictly better.
    assert.deepEqual(kept.published, []);
    assert.deepEqual(kept.incumbent, {
      version: 1,
      accuracy: scores[1]!.accuracy,
      loss: scores[1]!.loss,
      kept: true,
    });
    const better = await select({
      ...base(),
      candidates: [scores[0]!.path],
      repo,
      name: 'm',
      onlyIfBetter: true,
    });
    // Ranked first: strictly better (losses of differently seeded models never tie).
    assert.equal(better.published[0]?.version, 2);
    const empty = await select({
      ...base(),
      candidates: [worst.path],
      repo: join(tmp.dir, 'repo-empty'),
      name: 'm',
      onlyIfBetter: true,
    });
    assert.equal(empty.published[0]?.version, 1, 'an empty repository takes the first candidate');
    await assert.rejects(
      select({ ...base(), candidates, repo, name: 'm', topK: 2, onlyIfBetter: true }),
      /--top-k 1/,
    );
  });

  it('scores a package from test figures this workspace recorded for its weights and test data, else evaluates', async () => {
    const { fingerprint } = await testSplit(base());
    const key = workspaceScoreKey(base().workspace);
    assert.equal(statSync(join(base().workspace, SCORE_KEY_FILE)).mode & 0o777, 0o600, 'the key is private');
    assert.deepEqual(workspaceScoreKey(base().workspace), key, 'one key per workspace');
    const figures = { testAccuracy: 0.975, testLoss: 0.05, testCount: 40 };
    const pkg = (
      dir: string,
      lineage: Record<string, unknown>,
      o: { digest?: boolean; attest?: boolean; edit?: Record<string, number> } = {},
    ) =>
      makePackage(join(tmp.dir, dir), 1).then(async (p) => {
        const file = join(p, 'model.json');
        const m = JSON.parse(await readFile(file, 'utf8')) as Manifest;
        m.metrics = figures;
        m.lineage = lineage;
        if (o.attest !== false) m.lineage[ATTESTATION] = attestScore(key, m);
        if (o.digest === false) delete m.weightsSha256;
        if (o.edit) m.metrics = { ...m.metrics, ...o.edit };
        await writeFile(file, JSON.stringify(m));
        return p;
      });
    const recorded = await pkg('rec', { testFingerprint: fingerprint });
    const otherData = await pkg('rec-other', { testFingerprint: 'f'.repeat(64) });
    const noDigest = await pkg('rec-nodigest', { testFingerprint: fingerprint }, { digest: false });
    // Figures this workspace never vouched for, and vouched-for figures edited afterwards.
    const unattested = await pkg('rec-unattested', { testFingerprint: fingerprint }, { attest: false });
    const edited = await pkg(
      'rec-edited',
      { testFingerprint: fingerprint },
      { edit: { testAccuracy: 0.999 } },
    );
    const r = await select({
      ...base(),
      candidates: [recorded, otherData, noDigest, unattested, edited],
      repo: join(tmp.dir, 'repo-rec'),
      name: 'r',
    });
    const by = new Map(r.candidates.map((c) => [c.path, c]));
    assert.deepEqual(
      [by.get(recorded)?.scoredFrom, by.get(recorded)?.accuracy, by.get(recorded)?.count],
      ['recorded', 0.975, 40],
    );
    assert.equal(by.get(otherData)?.scoredFrom, 'evaluated', 'recorded on other test data');
    assert.equal(by.get(noDigest)?.scoredFrom, 'evaluated', 'no weights digest to tie the figures to');
    assert.equal(by.get(unattested)?.scoredFrom, 'evaluated', 'not recorded by this workspace');
    assert.equal(by.get(edited)?.scoredFrom, 'evaluated', 'figures edited after they were recorded');
    assert.notEqual(r.candidates[0]?.path, edited, 'an edited model.json does not win');
    assert.equal(r.candidates[0]?.path, recorded);
    // The same weights evaluated now score what an untrained model scores, not the record.
    assert.equal(by.get(otherData)?.accuracy, by.get(noDigest)?.accuracy);
    assert.equal(by.get(edited)?.accuracy, by.get(noDigest)?.accuracy);
    assert.notEqual(by.get(otherData)?.accuracy, 0.975);
    // Another workspace (another key) does not trust this one's record.
    const elsewhere = await select({
      ...base(),
      workspace: join(tmp.dir, 'ws-other'),
      candidates: [recorded],
      repo: join(tmp.dir, 'repo-rec3'),
      name: 'r',
    });
    assert.equal(elsewhere.candidates[0]?.scoredFrom, 'evaluated');
    const fresh = await select({
      ...base(),
      candidates: [recorded],
      repo: join(tmp.dir, 'repo-rec2'),
      name: 'r',
      reEvaluate: true,
    });
    assert.equal(fresh.candidates[0]?.scoredFrom, 'evaluated');
    assert.equal(fresh.candidates[0]?.accuracy, by.get(noDigest)?.accuracy);
  });

  it('publishes rank i of the top K as the next version of NAME-i', async () => {
    const candidates = [join(tmp.dir, 'c1'), join(tmp.dir, 'c2'), join(tmp.dir, 'c3')];
    const repo = join(tmp.dir, 'repo-k');
    const r = await select({ ...base(), candidates, repo, name: 'ens', topK: 2 });
    assert.deepEqual(selectionTargets('ens', 2), ['ens-1', 'ens-2']);
    assert.deepEqual(
      r.published.map((p) => [p.name, p.version]),
      [
        ['ens-1', 1],
        ['ens-2', 1],
      ],
    );
    assert.equal(r.candidates[0]?.published?.name, 'ens-1');
    assert.equal(r.candidates[2]?.published, undefined);
  });

  it('publishes nothing and says so when no candidate reaches --min-accuracy', async () => {
    const repo = join(tmp.dir, 'repo-min');
    await assert.rejects(
      select({ ...base(), candidates: [join(tmp.dir, 'c1')], repo, name: 'x', minAccuracy: 1.01 }),
      (e: unknown) =>
        e instanceof RegistryError &&
        e.code === 'REGISTRY_NONE_PASSED' &&
        /nothing was published/.test(e.message),
    );
    assert.deepEqual(await listVersions(repo, 'x'), []);
  });

  it('names a candidate that is not a model package', async () => {
    await assert.rejects(
      select({ ...base(), candidates: [join(tmp.dir, 'nowhere')], repo: join(tmp.dir, 'r'), name: 'x' }),
      (e: unknown) =>
        e instanceof RegistryError && e.code === 'REGISTRY_BAD_CANDIDATE' && /nowhere/.test(e.message),
    );
  });
});
