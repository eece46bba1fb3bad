// The engine's side of elastic resizing (workflow/engine/resize.ts): which control file a train step's
// launcher watches, and a lease's standing size written in order and withdrawn with the lease.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunContext } from '../../src/workflow/engine/context.js';
import { controlFileOf, LeaseSize, withOutputPaths } from '../../src/workflow/engine/resize.js';
import type { Template } from '../../src/workflow/spec/schema.js';
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

  it("knows a relative output artifact's path before the attempt (out: {{outputs.artifacts.model.path}})", () => {
    const ctx = { workspace: '/ws', run: 'r1' } as RunContext;
    const t = {
      outputs: {
        artifacts: [
          { name: 'model', path: 'model' },
          { name: 'abs', path: '/x' },
        ],
      },
    };
    const scope = withOutputPaths(ctx, t as unknown as Template, 'r1.train', new Map([['a', 'b']]));
    const scratch = join(runDirs('/ws', 'r1').scratch, fileName('r1.train'));
    assert.equal(scope.get('outputs.artifacts.model.path'), join(scratch, 'model'));
    assert.equal(scope.has('outputs.artifacts.abs.path'), false, "an absolute path is each attempt's own");
    assert.equal(scope.get('a'), 'b');
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
