// Model selection (the book's section 9.2.3): score every candidate on the Fashion-MNIST test split, rank
// them, and publish the best as the newest version in the repository. A package whose model.json records
// test figures for exactly its weights (weightsSha256) on exactly this test data (testFingerprint) is scored
// from that record instead of being evaluated again — but only when this workspace made the record (its
// HMAC, models/attestation.ts): model.json is an editable file, and an edited score must not win.
import { join, resolve } from 'node:path';
import {
  collate,
  resolveFashionMnist,
  scaledSplit,
  type CacheKind,
  type ExampleBatch,
  type ScaledExample,
} from '../data/index.js';
import { acquireLock, type HeldLock } from '../durable/index.js';
import {
  isAttested,
  ModelError,
  modelOf,
  readPackage,
  workspaceScoreKey,
  type Manifest,
} from '../models/index.js';
import { RegistryError } from './errors.js';
import {
  checkModelName,
  latestVersion,
  modelPath,
  publish,
  versionPath,
  type Published,
} from './repository.js';

/** Metrics a selection can rank by: accuracy (higher is better) or loss (lower is better). */
export const SELECTION_METRICS = ['accuracy', 'loss'] as const;
export type SelectionMetric = (typeof SELECTION_METRICS)[number];

export interface SelectOptions {
  /** Model package folders to compare. */
  candidates: string[];
  repo: string;
  name: string;
  /** Default accuracy. */
  metric?: SelectionMetric;
  /** How many to publish; with K > 1 the i-th best becomes the next version of `${name}-${i}`. Default 1. */
  topK?: number;
  /** Candidates below this test accuracy are never published. Default 0. */
  minAccuracy?: number;
  /** Workspace folder (data cache). */
  workspace: string;
  source?: string;
  urlBase?: string;
  /** How the preprocessed test split is kept. Default disk. */
  cache?: CacheKind;
  /**
   * Publish only a candidate that beats the newest version already in the repository (scored on the same test
   * split): the asynchronous pipeline's "a later, better model becomes the new version" (book 5.3).
   * Top-1 only.
   */
  onlyIfBetter?: boolean;
  /** Evaluate every candidate even when its package records test figures for this test data. */
  reEvaluate?: boolean;
  /** Called after each candidate is scored. */
  onEvaluated?: (done: number, total: number, candidate: CandidateResult) => void;
}

export interface CandidateResult {
  path: string;
  /** The model's own name from its model.json (e.g. cnn). */
  model: string;
  accuracy: number;
  loss: number;
  count: number;
  /** Evaluated now, or taken from test figures its package recorded on the same weights and test data. */
  scoredFrom: 'evaluated' | 'recorded';
  /** 1 = best by the metric. */
  rank: number;
  passed: boolean;
  published?: Published;
}

export interface SelectReport {
  metric: SelectionMetric;
  topK: number;
  minAccuracy: number;
  candidates: CandidateResult[];
  published: Published[];
  /** With onlyIfBetter: the version already served and its scores, and whether it stayed. */
  incumbent?: { version: number; accuracy: number; loss: number; kept: boolean };
}

/** Names the versions of a top-K selection go to: NAME for K = 1, NAME-1 … NAME-K otherwise. */
export function selectionTargets(name: string, topK: number): string[] {
  return topK === 1 ? [name] : Array.from({ length: topK }, (_, i) => `${name}-${i + 1}`);
}

/** The test split: its content fingerprint at once, its examples (10,000 images) on first use. */
export interface TestSplit {
  fingerprint: string;
  load(): Promise<ExampleBatch>;
}

/** The test split of the chosen source; nothing is decoded until `load()`. */
export async function testSplit(opts: {
  workspace: string;
  source?: string;
  urlBase?: string;
  cache?: CacheKind;
}): Promise<TestSplit> {
  const src = await resolveFashionMnist({
    source: opts.source,
    urlBase: opts.urlBase,
    workspace: opts.workspace,
  });
  const ds = scaledSplit('test', src.test, { cache: opts.cache ?? 'disk', workspace: opts.workspace });
  let batch: Promise<ExampleBatch> | undefined;
  return {
    fingerprint: ds.fingerprint,
    load: () =>
      (batch ??= (async () => {
        const all: ScaledExample[] = [];
        for await (const chunk of ds.chunks()) for (const e of chunk) all.push(e);
        return collate(all);
      })()),
  };
}

/** Evaluates every candidate on the test split, ranks them and publishes the top K that pass. */
export async function select(opts: SelectOptions): Promise<SelectReport> {
  const metric = opts.metric ?? 'accuracy';
  const topK = opts.topK ?? 1;
  const minAccuracy = opts.minAccuracy ?? 0;
  checkOptions(opts, topK);
  const targets = selectionTargets(opts.name, topK).map(checkModelName);
  const paths = opts.candidates.map((c) => resolve(c));
  const test = await testSplit(opts);
  const reuse = opts.reEvaluate ? undefined : workspaceScoreKey(opts.workspace);
  const results: CandidateResult[] = [];
  for (const path of paths) {
    const r = await scoreCandidate(path, test, reuse);
    results.push(r);
    opts.onEvaluated?.(results.length, paths.length, r);
  }
  const ranked = [...results].sort((a, b) => compare(metric, a, b));
  ranked.forEach((r, i) => {
    r.rank = i + 1;
    r.passed = r.accuracy >= minAccuracy;
  });
  let chosen = ranked.filter((r) => r.passed).slice(0, topK);
  // The comparison with the served version and the publish happen under one lock per model, so concurrent
  // selections (say three trainings finishing at once) publish one after another, each against the newest.
  await using _lock = await lockPublishing(opts.repo, targets);
  const incumbent = opts.onlyIfBetter
    ? await incumbentOf(opts.repo, targets[0] as string, test, reuse)
    : undefined;
  if (incumbent && chosen[0] && compare(metric, chosen[0], { ...chosen[0], ...incumbent }) >= 0) {
    chosen = [];
    return {
      metric,
      topK,
      minAccuracy,
      candidates: ranked,
      published: [],
      incumbent: { ...incumbent, kept: true },
    };
  }
  if (chosen.length === 0) {
    const best = Math.max(...results.map((r) => r.accuracy));
    throw new RegistryError(
      'REGISTRY_NONE_PASSED',
      `no candidate reached --min-accuracy ${minAccuracy} (best test accuracy ${best.toFixed(4)}); nothing was published`,
    );
  }
  const summary = results.map((r) => ({ path: r.path, accuracy: r.accuracy, loss: r.loss }));
  const published: Published[] = [];
  for (const [i, r] of chosen.entries()) {
    const selection = {
      metric,
      accuracy: r.accuracy,
      loss: r.loss,
      count: r.count,
      rank: r.rank,
      topK,
      minAccuracy,
    };
    r.published = await publish(opts.repo, targets[i] as string, r.path, {
      selection: { ...selection, dataset: 'fashion-mnist/test', candidates: summary },
    });
    published.push(r.published);
  }
  return {
    metric,
    topK,
    minAccuracy,
    candidates: ranked,
    published,
    ...(incumbent ? { incumbent: { ...incumbent, kept: false } } : {}),
  };
}

/** Holds `<repo>/<model>/.publish.lock` of every target (taken in one order, so two selections never deadlock). */
async function lockPublishing(repo: string, targets: string[]): Promise<AsyncDisposable> {
  const held: HeldLock[] = [];
  try {
    for (const t of [...targets].sort())
      held.push(await acquireLock(join(modelPath(repo, t), '.publish.lock')));
  } catch (err) {
    for (const l of held.reverse()) await l.release();
    throw err;
  }
  return { [Symbol.asyncDispose]: async () => void (await Promise.all(held.map((l) => l.release()))) };
}

/** The newest version of `name` and its scores on `test`, or undefined when none is published yet. */
async function incumbentOf(
  repo: string,
  name: string,
  test: TestSplit,
  reuse: Uint8Array | undefined,
): Promise<{ version: number; accuracy: number; loss: number } | undefined> {
  const version = await latestVersion(repo, name);
  if (version === undefined) return undefined;
  const r = await scoreCandidate(versionPath(repo, name, version), test, reuse);
  return { version, accuracy: r.accuracy, loss: r.loss };
}

function checkOptions(opts: SelectOptions, topK: number): void {
  if (opts.candidates.length === 0) {
    throw new RegistryError(
      'REGISTRY_BAD_CANDIDATE',
      'no candidates given: pass at least one model package folder',
    );
  }
  const seen = new Set<string>();
  for (const c of opts.candidates.map((p) => resolve(p))) {
    if (seen.has(c)) throw new RegistryError('REGISTRY_BAD_CANDIDATE', `candidate ${c} is given twice`);
    seen.add(c);
  }
  if (opts.onlyIfBetter && topK !== 1) {
    throw new RegistryError(
      'REGISTRY_BAD_CANDIDATE',
      '--only-if-better compares with the served version: use it with --top-k 1',
    );
  }
  if (!Number.isInteger(topK) || topK < 1) {
    throw new RegistryError('REGISTRY_BAD_CANDIDATE', `top-k must be a positive integer (got ${topK})`);
  }
}

/** Accuracy descending (ties: lower loss), or loss ascending (ties: higher accuracy); stable otherwise. */
function compare(metric: SelectionMetric, a: CandidateResult, b: CandidateResult): number {
  return metric === 'accuracy'
    ? b.accuracy - a.accuracy || a.loss - b.loss
    : a.loss - b.loss || b.accuracy - a.accuracy;
}

/** `reuse`: the workspace's score key when recorded figures it vouches for may stand in for evaluation. */
async function scoreCandidate(
  path: string,
  test: TestSplit,
  reuse: Uint8Array | undefined,
): Promise<CandidateResult> {
  let loaded;
  try {
    const pkg = await readPackage(path); // validates, and checks weightsSha256
    const recorded = reuse ? recordedScore(pkg.manifest, test.fingerprint, reuse) : undefined;
    if (recorded)
      return { path, model: pkg.manifest.name, ...recorded, scoredFrom: 'recorded', rank: 0, passed: false };
    loaded = await modelOf(pkg);
  } catch (err) {
    if (err instanceof ModelError) {
      throw new RegistryError('REGISTRY_BAD_CANDIDATE', `candidate ${path}: ${err.message}`, { cause: err });
    }
    throw err;
  }
  try {
    const batch = await test.load();
    const r = await loaded.model.evaluate(batch.images, batch.labels);
    return { path, model: loaded.manifest.name, ...r, scoredFrom: 'evaluated', rank: 0, passed: false };
  } finally {
    await loaded.model.dispose();
  }
}

/** Test figures this workspace recorded for the package's own weights on the test data with this fingerprint. */
function recordedScore(
  m: Manifest,
  fingerprint: string,
  key: Uint8Array,
): { accuracy: number; loss: number; count: number } | undefined {
  const { testAccuracy: accuracy, testLoss: loss, testCount: count } = m.metrics;
  if (m.weightsSha256 === undefined || m.lineage['testFingerprint'] !== fingerprint) return undefined;
  if (!isAttested(key, m)) return undefined;
  if (accuracy === undefined || loss === undefined || count === undefined) return undefined;
  return { accuracy, loss, count };
}
