import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createModel, inspectModelSpec } from '../../src/engine/index.js';
import {
  bookModelSpec,
  formatSummary,
  loadModel,
  ModelError,
  readPackage,
  savePackage,
  WEIGHTS,
} from '../../src/models/index.js';
import { tempDir } from '../data/fixtures.js';

const tmp = tempDir();
after(tmp.cleanup);

function images(n: number, seed = 3): Float32Array {
  const x = new Float32Array(n * 784);
  let s = seed;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s >>> 8) / 2 ** 24;
  }
  return x;
}

describe("the book's models", () => {
  it('have the parameter counts Keras prints for Listings 9.4 and 9.5', () => {
    assert.equal(inspectModelSpec(bookModelSpec('cnn')).paramCount, 93_322);
    assert.equal(inspectModelSpec(bookModelSpec('dropout')).paramCount, 93_322);
    const bn = inspectModelSpec(bookModelSpec('batch_norm'));
    assert.equal(bn.paramCount, 93_706);
    assert.equal(bn.trainableParamCount, 93_514);
    for (const name of ['cnn', 'dropout', 'batch_norm']) {
      assert.equal(
        createModel(bookModelSpec(name), { seed: 1 }).paramCount,
        inspectModelSpec(bookModelSpec(name)).paramCount,
      );
    }
  });

  it('print a Keras-style summary', () => {
    const s = formatSummary(bookModelSpec('dropout'));
    assert.match(s, /conv2d_2 \(Conv2D\)\s+\(None, 3, 3, 64\)\s+36,928/);
    assert.match(s, /dropout \(Dropout\)\s+\(None, 5, 5, 64\)\s+0/);
    assert.match(s, /Total params: 93,322/);
  });

  it('reject unknown names with the list of known ones', () => {
    assert.throws(
      () => bookModelSpec('resnet'),
      (e: unknown) =>
        e instanceof ModelError && e.code === 'MODEL_UNKNOWN' && /cnn, dropout, batch_norm/.test(e.message),
    );
  });
});

describe('model package', () => {
  it('save then load gives identical predictions', async () => {
    for (const name of ['cnn', 'batch_norm']) {
      const spec = bookModelSpec(name);
      const model = createModel(spec, { seed: 7 });
      const x = images(5);
      const before = await model.predict(x);
      const dir = join(tmp.dir, `pkg-${name}`);
      await savePackage(dir, {
        name,
        spec,
        tensors: (await model.getState()).tensors,
        classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'],
        metrics: { testAccuracy: 0.5 },
        lineage: { dataFingerprint: 'abc' },
      });
      const { model: loaded, manifest } = await loadModel(dir);
      assert.equal(manifest.params, model.paramCount);
      assert.deepEqual(manifest.inputSignature, {
        name: 'image_bytes',
        shape: [null, 28, 28, 1],
        dtype: 'float32',
      });
      assert.deepEqual(Array.from(await loaded.predict(x)), Array.from(before));
      await Promise.all([model.dispose(), loaded.dispose()]);
    }
  });

  it('replaces an existing package by swapping a symlink, keeping only the current and previous content', async () => {
    const spec = bookModelSpec('cnn');
    const m = createModel(spec, { seed: 1 });
    const tensors = (await m.getState()).tensors;
    const dir = join(tmp.dir, 'replace');
    const input = { name: 'cnn', spec, tensors, classNames: [], metrics: {}, lineage: {} };
    for (const v of [1, 2, 3]) await savePackage(dir, { ...input, metrics: { v } });
    assert.equal((await readPackage(dir)).manifest.metrics['v'], 3);
    assert.ok(lstatSync(dir).isSymbolicLink(), 'the package folder is a pointer to its current content');
    const hidden = readdirSync(tmp.dir).filter((f) => f.startsWith('.replace'));
    assert.equal(hidden.length, 2, `current and previous content only: ${hidden.join(', ')}`);
    assert.ok(hidden.includes(readlinkSync(dir)));
    await m.dispose();
  });

  it('turns a plain package folder into a swapped one on its first replacement', async () => {
    const spec = bookModelSpec('cnn');
    const m = createModel(spec, { seed: 1 });
    const dir = join(tmp.dir, 'plain');
    mkdirSync(dir);
    writeFileSync(join(dir, 'stale.txt'), 'made by hand');
    const input = { name: 'cnn', spec, tensors: (await m.getState()).tensors, classNames: [], lineage: {} };
    await savePackage(dir, { ...input, metrics: { v: 1 } });
    assert.equal((await readPackage(dir)).manifest.metrics['v'], 1);
    assert.ok(!existsSync(join(dir, 'stale.txt')));
    await m.dispose();
  });

  it('records the weights SHA-256 and refuses weights from another save; older packages without it load', async () => {
    const spec = bookModelSpec('cnn');
    const save = async (dir: string, seed: number) => {
      const m = createModel(spec, { seed });
      const tensors = (await m.getState()).tensors;
      await m.dispose();
      return savePackage(dir, { name: 'cnn', spec, tensors, classNames: [], metrics: {}, lineage: {} });
    };
    const a = join(tmp.dir, 'digest-a');
    const b = join(tmp.dir, 'digest-b');
    const manifest = await save(a, 1);
    await save(b, 2);
    assert.match(manifest.weightsSha256 ?? '', /^[0-9a-f]{64}$/);
    assert.equal((await readPackage(a)).manifest.weightsSha256, manifest.weightsSha256);
    writeFileSync(join(a, WEIGHTS), readFileSync(join(b, WEIGHTS)));
    await assert.rejects(
      readPackage(a),
      (e: unknown) =>
        e instanceof ModelError && e.code === 'MODEL_BAD_PACKAGE' && /not the weightsSha256/.test(e.message),
    );
    const older = JSON.parse(readFileSync(join(a, 'model.json'), 'utf8')) as Record<string, unknown>;
    delete older['weightsSha256'];
    writeFileSync(join(a, 'model.json'), JSON.stringify(older));
    assert.equal((await readPackage(a)).manifest.weightsSha256, undefined);
  });

  it('reports missing and damaged packages clearly', async () => {
    await assert.rejects(
      loadModel(join(tmp.dir, 'nothing')),
      (e: unknown) => e instanceof ModelError && e.code === 'MODEL_NOT_FOUND',
    );
    const spec = bookModelSpec('cnn');
    const m = createModel(spec, { seed: 1 });
    const dir = join(tmp.dir, 'damaged');
    await savePackage(dir, {
      name: 'cnn',
      spec,
      tensors: (await m.getState()).tensors,
      classNames: [],
      metrics: {},
      lineage: {},
    });
    writeFileSync(join(dir, WEIGHTS), Buffer.alloc(3));
    await assert.rejects(loadModel(dir), /weights\.safetensors: not a valid safetensors file/);
    writeFileSync(join(dir, 'model.json'), '{"format":"distml-model/v1"}');
    await assert.rejects(
      loadModel(dir),
      (e: unknown) => e instanceof ModelError && /model\.json: name/.test(e.message),
    );
    await m.dispose();
  });
});
