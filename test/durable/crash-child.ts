// Saves a package, publishes it and checkpoints, over and over, until it is killed (started by
// crash.test.ts, which SIGKILLs it at random moments). Args: ROOT SLOT.
import { join } from 'node:path';
import { createModel } from '../../src/engine/index.js';
import { bookModelSpec, savePackage } from '../../src/models/index.js';
import { publish } from '../../src/registry/index.js';
import { saveCheckpoint } from '../../src/train/index.js';

const [root, slot] = process.argv.slice(2) as [string, string];
const spec = bookModelSpec('cnn');
const model = createModel(spec, { seed: Number(slot) + 1 });
await model.setOptimizer({ type: 'adam', learningRate: 0.001 });
const { tensors } = await model.getState();
const classNames = Array.from({ length: 10 }, (_, i) => `c${i}`);
process.stdout.write('ready\n');
for (let i = 1; ; i++) {
  const lineage = { slot, i };
  await savePackage(join(root, 'pkg'), { name: 'cnn', spec, tensors, classNames, metrics: { i }, lineage });
  await publish(join(root, 'repo'), 'm', join(root, 'pkg'));
  const state = {
    epoch: 0,
    stepInEpoch: i,
    globalStep: i,
    seed: 1,
    history: [],
    epochSums: { loss: 0, correct: 0, count: 0 },
  };
  await saveCheckpoint(join(root, `ck-${slot}`), { name: 'cnn', spec, classNames, model, state });
}
