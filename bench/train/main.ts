// bench/train: the book's CNN trained by distml (our fit loop over our data pipeline, through the libtorch
// addon) and by PyTorch (Debian's python3-torch, an idiomatic in-memory loop) in the same run, on the same
// data, batch size 64, Adam 1e-3 and thread count. Prints training images/s ratios for 1 and 2 threads,
// the inference images/s ratio at batch 256, and time to 90% test accuracy.
import { join } from 'node:path';
import { resolveFashionMnist, scaledSplit, DEBIAN_DIR, type ResolvedSource } from '../../src/data/index.js';
import { createModel, setNumThreads, type Model } from '../../src/engine/index.js';
import { bookModelSpec } from '../../src/models/index.js';
import { constantLr, fit, wholeSplit, type Callback } from '../../src/train/index.js';
import { ratio, report, ROOT, runPythonAnchor } from '../harness.js';

const ANCHOR = join(ROOT, 'bench', 'train', 'anchor.py');
const STEPS = Number(process.env['BENCH_STEPS'] ?? 300);
const MAX_EPOCHS = Number(process.env['BENCH_MAX_EPOCHS'] ?? 10);
const WORKSPACE = join(ROOT, '.distml');
/** Passes over the 10,000 test images per inference measurement (one pass is ~2 s: too short on a noisy machine). */
const INFERENCE_PASSES = 5;

async function newModel(): Promise<Model> {
  const m = createModel(bookModelSpec('cnn'), { seed: 1 });
  await m.setOptimizer({ type: 'adam', learningRate: 1e-3 });
  return m;
}

/** What every fit in this benchmark shares. */
function common(model: Model) {
  return {
    model,
    name: 'cnn',
    spec: bookModelSpec('cnn'),
    classNames: [],
    batchSize: 64,
    seed: 1,
    baseLr: 1e-3,
    schedule: constantLr,
  };
}

async function oursThroughput(src: ResolvedSource, threads: number): Promise<number> {
  setNumThreads(threads);
  const model = await newModel();
  const train = scaledSplit('train', src.train, { cache: 'memory', workspace: WORKSPACE });
  await fit({ ...common(model), train, epochs: 1, stepsPerEpoch: 20 }); // warm-up
  const r = await fit({ ...common(model), train, epochs: 1, stepsPerEpoch: STEPS });
  await model.dispose();
  return r.imagesPerSecond;
}

async function oursInference(src: ResolvedSource, threads: number): Promise<number> {
  setNumThreads(threads);
  const model = await newModel();
  const test = await wholeSplit(scaledSplit('test', src.test, { cache: 'memory', workspace: WORKSPACE }));
  await model.predict(test.images.subarray(0, 256 * 784), 256);
  const t0 = performance.now();
  for (let pass = 0; pass < INFERENCE_PASSES; pass++) await model.predict(test.images, 256);
  const seconds = (performance.now() - t0) / 1000;
  await model.dispose();
  return (INFERENCE_PASSES * test.size) / seconds;
}

async function oursTo90(
  src: ResolvedSource,
  threads: number,
): Promise<{ seconds: number | null; epochs: number; testAccuracy: number }> {
  setNumThreads(threads);
  const model = await newModel();
  let reached = false;
  const stop: Callback = {
    onEpochEnd: (l) => {
      if ((l.valAccuracy ?? 0) >= 0.9) {
        reached = true;
        return 'stop';
      }
    },
  };
  const r = await fit({
    ...common(model),
    train: scaledSplit('train', src.train, { cache: 'memory', workspace: WORKSPACE }),
    test: scaledSplit('test', src.test, { cache: 'memory', workspace: WORKSPACE }),
    epochs: MAX_EPOCHS,
    callbacks: [stop],
  });
  await model.dispose();
  return { seconds: reached ? r.trainSeconds : null, epochs: r.epochs, testAccuracy: r.testAccuracy ?? 0 };
}

function anchor(mode: string, ...args: (string | number)[]): Record<string, unknown> | undefined {
  return runPythonAnchor(ANCHOR, [mode, ...args.map(String)], { FASHION_DIR: DEBIAN_DIR });
}

async function main(): Promise<void> {
  const src = await resolveFashionMnist({ workspace: WORKSPACE, source: 'debian' });
  const training: Record<string, unknown> = {};
  for (const threads of [1, 2]) {
    // Anchor first, then ours, then the anchor again: the mean of the anchor runs brackets ours in time.
    const a1 = anchor('throughput', threads, STEPS)?.['imagesPerSecond'] as number | undefined;
    const ours = await oursThroughput(src, threads);
    const a2 = anchor('throughput', threads, STEPS)?.['imagesPerSecond'] as number | undefined;
    const pytorch = a1 && a2 ? (a1 + a2) / 2 : (a1 ?? a2);
    training[`threads${threads}`] = {
      oursImagesPerSecond: Math.round(ours),
      pytorchImagesPerSecond: pytorch ? Math.round(pytorch) : null,
      ratio: ratio(ours, pytorch),
    };
  }
  const ai = anchor('inference', 2, INFERENCE_PASSES)?.['imagesPerSecond'] as number | undefined;
  const oi = await oursInference(src, 2);
  const ours90 = await oursTo90(src, 2);
  const py90 = anchor('to90', 2, MAX_EPOCHS);
  report('train', {
    model: 'cnn (93,322 params), batch 64, Adam 1e-3',
    steps: STEPS,
    training,
    inferenceBatch256Threads2: {
      oursImagesPerSecond: Math.round(oi),
      pytorchImagesPerSecond: ai ? Math.round(ai) : null,
      ratio: ratio(oi, ai),
    },
    timeTo90Threads2: { ours: ours90, pytorch: py90 ?? null },
  });
}

await main();
