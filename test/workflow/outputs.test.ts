import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  compositeParameter,
  lastJson,
  leafParameter,
  readJsonPath,
} from '../../src/workflow/engine/outputs.js';

const dir = mkdtempSync(join(tmpdir(), 'distml-outputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'out.txt'), 'hello\n');

type P = Parameters<typeof leafParameter>[0];
const param = (p: Record<string, unknown>) => ({ name: 'x', ...p }) as unknown as P;

describe("output parameters (Argo's valueFrom)", () => {
  it(
    'reads a file the step wrote, relative to its working directory, without the last newline',
    { timeout: 10_000 },
    () => {
      assert.equal(leafParameter(param({ valueFrom: { path: 'out.txt' } }), '', dir), 'hello');
      assert.equal(leafParameter(param({ valueFrom: { path: join(dir, 'out.txt') } }), '', '/'), 'hello');
    },
  );

  it(
    'falls back to valueFrom.default, then default, and otherwise names what is missing',
    { timeout: 10_000 },
    () => {
      assert.equal(
        leafParameter(param({ valueFrom: { path: 'none.txt', default: 'vf' }, default: 'p' }), '', dir),
        'vf',
      );
      assert.equal(leafParameter(param({ valueFrom: { path: 'none.txt' }, default: 'p' }), '', dir), 'p');
      assert.throws(
        () => leafParameter(param({ valueFrom: { path: 'none.txt' } }), '', dir),
        /"x": file none\.txt not found/,
      );
    },
  );

  it('reads fields of the JSON result on the last stdout line', { timeout: 10_000 }, () => {
    const out = 'progress\n{"train": {"count": 3, "list": [1, {"a": "b"}]}}';
    assert.deepEqual(lastJson(out), { train: { count: 3, list: [1, { a: 'b' }] } });
    assert.equal(readJsonPath(out, 'train.count'), '3');
    assert.equal(readJsonPath(out, '$.train.list[1].a'), 'b');
    assert.equal(readJsonPath(out, 'train.nope'), undefined);
    assert.throws(() => lastJson('no json here'), /printed no JSON result/);
  });

  it(
    "takes a steps/dag template's outputs from a tag or an expression, with the default for a skipped child",
    { timeout: 10_000 },
    () => {
      const scope = new Map([
        ['steps.flip.outputs.result', 'heads'],
        ['steps.heads.outputs.result', 'it was heads'],
      ]);
      assert.equal(
        compositeParameter(param({ valueFrom: { parameter: '{{steps.heads.outputs.result}}' } }), scope),
        'it was heads',
      );
      const pick =
        "steps.flip.outputs.result == 'heads' ? steps.heads.outputs.result : steps.tails.outputs.result";
      assert.equal(compositeParameter(param({ valueFrom: { expression: pick } }), scope), 'it was heads');
      assert.equal(
        compositeParameter(
          param({ valueFrom: { parameter: '{{steps.tails.outputs.result}}', default: 'none' } }),
          scope,
        ),
        'none',
      );
      assert.throws(
        () =>
          compositeParameter(param({ valueFrom: { parameter: '{{steps.tails.outputs.result}}' } }), scope),
        /unresolved variable/,
      );
    },
  );
});
