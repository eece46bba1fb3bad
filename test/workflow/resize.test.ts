// The engine's side of elastic resizing (workflow/engine/resize.ts): which control file a train step's
// launcher watches, and a lease's standing size written in order and withdrawn with the lease.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { controlFileOf, LeaseSize } from '../../src/workflow/engine/resize.js';
import { fileName, runDirs } from '../../src/workflow/index.js';

const dir = mkdtempSync(join(tmpdir(), 'distml-resize-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("an elastic train step's control file", () => {
  it("is the step's control-file, else <out>.control.json, relative to where the run started", () => {
    const at = (w?: Record<string, string>) => controlFileOf('/ws', 'r1', 'r1.train', '/home/u', w);
    assert.equal(at({ 'control-file': 'c.json', out: '/o' }), '/home/u/c.json');
    assert.equal(at({ out: 'models/m' }), '/home/u/models/m.control.json');
    assert.equal(at({ out: '/abs/m/' }), '/abs/m.control.json');
    assert.equal(
      at({ 'min-workers': '1' }),
      `${join(runDirs('/ws', 'r1').artifacts, fileName('r1.train'))}.control.json`,
    );
  });

  it("holds the lease's latest size (writes land in order) until the lease ends", async () => {
    const file = join(dir, 'a', 'out.control.json');
    const errors: Error[] = [];
    const size = new LeaseSize(file, 'r1/train#1', (e) => errors.push(e));
    // Not awaited one by one: a resize decided right after the admission must not be overtaken by it.
    void size.set(1);
    void size.set(2);
    await size.set(1).then(() => size.set(2));
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { workers: 2, lease: 'r1/train#1' });
    await size.end();
    assert.equal(existsSync(file), false);
    assert.deepEqual(errors, []);
  });

  it('reports a size it cannot write instead of throwing, and goes on', async () => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const errors: Error[] = [];
    const size = new LeaseSize(join(blocker, 'out.control.json'), 'r1/train#2', (e) => errors.push(e));
    await size.set(2);
    await size.end();
    // Each failure reported (the write, then the withdrawal), none thrown.
    assert.equal(errors.length, 2, errors.map((e) => e.message).join('; '));
    assert.match(errors[0]!.message, /not-a-dir/);
  });
});
