// The elastic control file (train/distributed/control.ts): one-shot requests after the launch, standing
// requests of a scheduler lease, and every write seen once, even two within one mtime tick.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ControlWatch,
  controlFileFor,
  parseControl,
  requestWorkers,
  withdrawRequest,
} from '../../src/train/distributed/control.js';

const dir = mkdtempSync(join(tmpdir(), 'distml-control-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => controlFileFor(join(dir, `out${++n}`));

/** A watch started with a recorder (polling off: the test calls check()). */
function watch(file: string): { w: ControlWatch; got: number[] } {
  const got: number[] = [];
  const w = new ControlWatch(file, 3_600_000);
  w.start((k) => got.push(k));
  after(() => w.stop());
  return { w, got };
}

describe('the elastic control file', () => {
  it('parses a one-shot and a standing request, and nothing else', () => {
    assert.deepEqual(parseControl('{"workers": 2}'), { workers: 2 });
    assert.deepEqual(parseControl('{"workers": 1, "lease": "r/train#3"}'), {
      workers: 1,
      lease: 'r/train#3',
    });
    assert.equal(parseControl('{"workers": 1.5}'), undefined);
    assert.equal(parseControl('{"work'), undefined);
  });

  it("ignores a user's request left from before the launch, and passes on one written after", async () => {
    const file = fresh();
    await requestWorkers(file, 2);
    const { w, got } = watch(file);
    assert.equal(w.standing, undefined);
    w.check();
    assert.deepEqual(got, [], 'a leftover of an earlier job');
    await requestWorkers(file, 1);
    w.check();
    w.check();
    assert.deepEqual(got, [1], 'once');
  });

  it("starts with a lease's standing request, and follows the lease's later sizes", async () => {
    const file = fresh();
    await requestWorkers(file, 2, 'run/train#1');
    const { w, got } = watch(file);
    assert.deepEqual(w.standing, { workers: 2, lease: 'run/train#1' });
    w.check();
    assert.deepEqual(got, [], 'the standing size is the start, not a resize');
    await requestWorkers(file, 1, 'run/train#1');
    w.check();
    assert.deepEqual(got, [1]);
    withdrawRequest(file);
    assert.equal(new ControlWatch(file, 1000).standing, undefined, 'withdrawn with its lease');
    withdrawRequest(file); // twice is harmless
  });

  it('sees two requests written within one mtime tick', async () => {
    const file = fresh();
    const { w, got } = watch(file);
    await requestWorkers(file, 2);
    const t = statSync(file).mtime;
    w.check();
    await requestWorkers(file, 1);
    utimesSync(file, t, t); // as a coarse file-system clock would stamp it
    w.check();
    assert.deepEqual(got, [2, 1]);
  });

  it('consumes nothing before it starts (SIGUSR2 before the launcher listens)', () => {
    const file = fresh();
    const w = new ControlWatch(file, 3_600_000);
    writeFileSync(file, '{"workers": 2}');
    w.check();
    const got: number[] = [];
    w.start((k) => got.push(k));
    w.check();
    w.stop();
    assert.deepEqual(got, [2]);
  });
});
