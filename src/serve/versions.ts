// Which versions of a model are loaded. The repository is the truth: the newest `keep` versions on disk are
// loaded (and warmed up) before anything older is let go, so a new version is swapped in without a gap, and
// an old one is disposed only after the requests already queued on it are answered.
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Model } from '../engine/index.js';
import { loadModel, type Manifest } from '../models/index.js';
import { listVersions, modelPath, versionPath } from '../registry/index.js';
import { DynamicBatcher } from './batcher.js';
import { PIXELS } from './inputs/instances.js';

export interface LoadedVersion {
  version: number;
  dir: string;
  manifest: Manifest;
  model: Model;
  batcher: DynamicBatcher;
}

/** TF Serving's ModelVersionStatus states. */
export type VersionState = 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

export interface VersionStatus {
  version: number;
  state: VersionState;
  error?: string;
}

export type VersionEvent =
  | { event: 'version-loaded'; model: string; version: number; seconds: number }
  | { event: 'version-unloaded'; model: string; version: number }
  | { event: 'version-failed'; model: string; version: number; error: string }
  | { event: 'repository-error'; model: string; error: string };

export interface ModelVersionsOptions {
  repo: string;
  name: string;
  /** How many of the newest versions stay loaded (older ones answer 404). Default 2. */
  keep?: number;
  /** Polling period, the fallback when fs.watch misses a change. Default 1000 ms. */
  pollMs?: number;
  maxBatch?: number;
  maxDelayMs?: number;
  /** Bounded batch queue (see BatcherOptions). */
  maxQueue?: number;
  queueDeadlineMs?: number;
  onBatch?: (examples: number, seconds: number) => void;
  onEvent?: (e: VersionEvent) => void;
}

/** What a version folder holds (names, sizes, mtimes, recursively): any write to it changes this. */
async function folderSignature(dir: string): Promise<string> {
  const parts: string[] = [];
  const walk = async (d: string, prefix: string): Promise<void> => {
    const st = await stat(d);
    parts.push(`${prefix}/:${st.mtimeMs}`);
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, `${prefix}/${e.name}`);
      else {
        const f = await stat(p).catch(() => undefined);
        parts.push(`${prefix}/${e.name}:${f?.size}:${f?.mtimeMs}`);
      }
    }
  };
  await walk(dir, '').catch((err: Error) => parts.push(`error:${err.message}`));
  return parts.join('\n');
}

/** The loaded versions of one model, kept in step with its folder in the repository. */
export class ModelVersions {
  private readonly loaded = new Map<number, LoadedVersion>();
  private readonly states = new Map<number, VersionStatus>();
  /** Versions that failed to load, with the signature their folder had then (see folderSignature). */
  private readonly failed = new Map<number, string>();
  private syncing: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private readonly keep: number;

  constructor(private readonly opts: ModelVersionsOptions) {
    this.keep = opts.keep ?? 2;
  }

  get name(): string {
    return this.opts.name;
  }

  /** Loads what is there now and starts watching the model's folder. */
  async start(): Promise<void> {
    await this.sync();
    this.poller = setInterval(() => void this.sync(), this.opts.pollMs ?? 1000);
    this.poller.unref();
  }

  /** The newest loaded version, the one requests without a version go to. */
  latest(): LoadedVersion | undefined {
    let best: LoadedVersion | undefined;
    for (const v of this.loaded.values()) if (!best || v.version > best.version) best = v;
    return best;
  }

  get(version: number): LoadedVersion | undefined {
    return this.loaded.get(version);
  }

  /** Loaded version numbers, newest first. */
  versions(): number[] {
    return [...this.loaded.keys()].sort((a, b) => b - a);
  }

  /** Every version the server knows about, newest first (as TF Serving's model_version_status). */
  status(): VersionStatus[] {
    return [...this.states.values()].sort((a, b) => b.version - a.version);
  }

  /** Re-reads the repository; concurrent calls share one pass (and ask for one more if something changed). */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.again = false;
        await this.syncOnce();
      } while (this.again && !this.closed);
    })().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  /** Stops watching, waits for queued requests, then disposes every model. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    this.watcher?.close();
    this.watcher = undefined;
    await this.syncing?.catch(() => undefined);
    await Promise.all([...this.loaded.keys()].map((v) => this.unload(v, false)));
  }

  private async syncOnce(): Promise<void> {
    const { name } = this.opts;
    let onDisk: number[];
    try {
      onDisk = await listVersions(this.opts.repo, name);
    } catch (err) {
      this.opts.onEvent?.({ event: 'repository-error', model: name, error: (err as Error).message });
      return;
    }
    this.ensureWatcher();
    await this.forgetChangedFailures(onDisk);
    const wanted = onDisk
      .filter((v) => !this.failed.has(v))
      .sort((a, b) => b - a)
      .slice(0, this.keep);
    for (const v of wanted) if (!this.loaded.has(v) && !this.closed) await this.load(v);
    for (const v of [...this.loaded.keys()]) if (!wanted.includes(v)) await this.unload(v, true);
    for (const v of this.states.keys()) if (!onDisk.includes(v)) this.states.delete(v);
  }

  /**
   * A failed version is tried again once its folder changes (as TF Serving does): the usual cause of a
   * failure is a copy still in progress (`cp -r` into the repository), which is complete a moment later.
   */
  private async forgetChangedFailures(onDisk: number[]): Promise<void> {
    for (const [v, signature] of [...this.failed]) {
      if (!onDisk.includes(v)) this.failed.delete(v);
      else if ((await folderSignature(this.path(v))) !== signature) this.failed.delete(v);
    }
  }

  private path(version: number): string {
    return versionPath(this.opts.repo, this.opts.name, version);
  }

  private async load(version: number): Promise<void> {
    const { name } = this.opts;
    const dir = this.path(version);
    // Taken before reading, so a change made while we load still counts as a change.
    const signature = await folderSignature(dir);
    this.states.set(version, { version, state: 'LOADING' });
    const t0 = performance.now();
    try {
      const { model, manifest } = await loadModel(dir);
      try {
        if (model.inputShape.reduce((a, b) => a * b, 1) !== PIXELS) {
          throw new Error(`input shape ${model.inputShape.join('x')} is not 28x28x1`);
        }
        // Warm up at the sizes we will run so the first real request does not pay for allocation.
        await model.predict(new Float32Array(PIXELS));
        await model.predict(new Float32Array(PIXELS * (this.opts.maxBatch ?? 64)));
      } catch (err) {
        await model.dispose();
        throw err;
      }
      if (this.closed) {
        await model.dispose();
        return;
      }
      const batcher = new DynamicBatcher((inputs, count) => model.predict(inputs, Math.min(count, 256)), {
        maxBatch: this.opts.maxBatch,
        maxDelayMs: this.opts.maxDelayMs,
        maxQueue: this.opts.maxQueue,
        deadlineMs: this.opts.queueDeadlineMs,
        inputSize: PIXELS,
        outputSize: model.numClasses,
        onBatch: this.opts.onBatch,
      });
      this.loaded.set(version, { version, dir, manifest, model, batcher });
      this.states.set(version, { version, state: 'AVAILABLE' });
      const seconds = (performance.now() - t0) / 1000;
      this.opts.onEvent?.({ event: 'version-loaded', model: name, version, seconds });
    } catch (err) {
      // Not retried until its folder changes (it would fail the same way); older versions keep serving.
      this.failed.set(version, signature);
      const error = (err as Error).message;
      this.states.set(version, { version, state: 'END', error });
      this.opts.onEvent?.({ event: 'version-failed', model: name, version, error });
    }
  }

  private async unload(version: number, report: boolean): Promise<void> {
    const v = this.loaded.get(version);
    if (!v) return;
    this.loaded.delete(version); // new requests no longer find it; queued ones still run
    this.states.set(version, { version, state: 'UNLOADING' });
    await v.batcher.idle();
    await v.model.dispose();
    this.states.set(version, { version, state: 'END' });
    if (report) this.opts.onEvent?.({ event: 'version-unloaded', model: this.opts.name, version });
  }

  /** fs.watch on the model folder for quick pickup; the poller covers platforms and cases it misses. */
  private ensureWatcher(): void {
    if (this.watcher || this.closed) return;
    try {
      this.watcher = watch(modelPath(this.opts.repo, this.opts.name), () => void this.sync());
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined; // folder not there yet: the poller will try again
    }
  }
}
