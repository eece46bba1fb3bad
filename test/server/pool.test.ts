// One pool for the machine: two runs at once, each with a step asking for both of the server's 2 cores,
// run their steps one after the other, never together.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, oneStep, sandbox, startServer, status, stopServer, until } from './helpers.js';

describe('runs share the server pool', { timeout: 300_000 }, () => {
  it('two runs with a 2-core step each on a 2-core server never overlap', async () => {
    const box = sandbox();
    try {
      await startServer(box.ws, ['--cores=2']);
      // Each step writes its start and end (ns) to a file named after its run.
      const step = `date +%s%N > ${box.dir}/$DISTML_RUN.start; sleep 2; date +%s%N > ${box.dir}/$DISTML_RUN.end`;
      const file = box.file('big.yaml', oneStep('big', step, 2));
      const submit = () => cli(['run', file, '--detach', '--json', `--workspace=${box.ws}`]);
      const [a, b] = await Promise.all([submit(), submit()]);
      const runs = [a, b].map((r) => {
        assert.equal(r.code, 0, r.stdout + r.stderr);
        return (JSON.parse(r.stdout) as { run: string }).run;
      });
      for (const run of runs) {
        const phase = await until(`${run} to end`, 120_000, async () => {
          const s = await status(box.ws, run);
          return s.phase === 'Running' || s.phase === 'Pending' ? undefined : s.phase;
        });
        assert.equal(phase, 'Succeeded');
      }
      const span = (run: string) =>
        ['start', 'end'].map((e) => BigInt(readFileSync(join(box.dir, `${run}.${e}`), 'utf8').trim()));
      const [[s1, e1], [s2, e2]] = runs.map(span) as [bigint[], bigint[]];
      assert.ok(e1! <= s2! || e2! <= s1!, `the steps overlapped: ${s1}-${e1} and ${s2}-${e2}`);
    } finally {
      await stopServer(box.ws);
      box.cleanup();
    }
  });
});
