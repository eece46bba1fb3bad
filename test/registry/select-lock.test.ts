import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { listVersions, versionPath } from '../../src/registry/index.js';
import { runCli } from '../cli/run-cli.js';
import { writeDataset } from '../data/fixtures.js';
import { makePackage, tempDir } from '../serve/fixtures.js';

interface Score {
  accuracy: number;
  loss: number;
}

/** The selection's order: higher accuracy, then lower loss. */
const better = (a: Score, b: Score) =>
  a.accuracy > b.accuracy || (a.accuracy === b.accuracy && a.loss < b.loss);

describe('select --only-if-better run in parallel', () => {
  const tmp = tempDir('distml-select-lock-');
  after(() => tmp.cleanup());

  it('three selections at once publish one after another and never leave a worse model served', async () => {
    const data = join(tmp.dir, 'data');
    await mkdir(data);
    writeDataset(data, 10, 60);
    const candidates = await Promise.all(
      [1, 2, 3].map((seed) => makePackage(join(tmp.dir, `c${seed}`), seed)),
    );
    // Two rounds: without the lock the race is likely in each, not certain.
    for (const round of [1, 2]) {
      const repo = join(tmp.dir, `repo-${round}`);
      const runs = await Promise.all(
        candidates.map((c, i) =>
          runCli([
            'select',
            '--only-if-better',
            '--candidates',
            c,
            '--name',
            'fm',
            '--repo',
            repo,
            '--source',
            data,
            '--cache',
            'none',
            '--workspace',
            join(tmp.dir, `ws-${round}-${i}`),
            '--json',
          ]),
        ),
      );
      const scores = new Map<string, Score>();
      for (const r of runs) {
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout) as { candidates: (Score & { path: string })[] };
        for (const c of out.candidates) scores.set(c.path, c);
      }
      const best = [...scores.entries()].reduce((a, b) => (better(b[1], a[1]) ? b : a));
      const published: (Score & { source: string })[] = [];
      for (const v of await listVersions(repo, 'fm')) {
        const m = JSON.parse(await readFile(join(versionPath(repo, 'fm', v), 'model.json'), 'utf8'));
        const { source, selection } = m.lineage.registry as { source: string; selection: Score };
        published.push({ source, accuracy: selection.accuracy, loss: selection.loss });
      }
      for (let i = 1; i < published.length; i++) {
        const [prev, next] = [published[i - 1] as Score, published[i] as Score];
        assert.ok(
          better(next, prev),
          `version ${i + 1} (${JSON.stringify(next)}) beats ${JSON.stringify(prev)}`,
        );
      }
      assert.equal(published.at(-1)?.source, best[0], 'the best candidate is the one served');
    }
  });
});
