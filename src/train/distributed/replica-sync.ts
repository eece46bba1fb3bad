import type { Model, NamedTensor, ProcessGroup, Store } from '../../engine/index.js';
import type { TrainerState } from '../checkpoint.js';
import { K } from './protocol.js';

/** The trainer state and optimizer layout rank 0 publishes for a generation, beside the broadcast weights. */
interface StateMeta {
  state: TrainerState;
  optLayout: { name: string; shape: number[] }[];
  optConfig: Parameters<Model['setOptimizerState']>[0]['config'];
  resumedFrom?: string;
}

/** One buffer holding every tensor's data, in order. */
export function flatten(tensors: NamedTensor[]): Float32Array {
  const flat = new Float32Array(tensors.reduce((n, t) => n + t.data.length, 0));
  let off = 0;
  for (const t of tensors) {
    flat.set(t.data, off);
    off += t.data.length;
  }
  return flat;
}

/** The inverse of flatten: each tensor takes its slice of `flat`. */
export function scatter(flat: Float32Array, tensors: NamedTensor[]): void {
  let off = 0;
  for (const t of tensors) {
    t.data = flat.slice(off, off + t.data.length);
    off += t.data.length;
  }
}

/**
 * Makes every replica identical to rank 0: its trainer state through the store, its weights, buffers and
 * optimizer moments by one broadcast. Rank 0 passes its state (restored from a checkpoint first, by the
 * caller, when a fresh group resumes); every rank gets back the state the group now shares.
 */
export async function syncFromRank0(
  group: ProcessGroup,
  store: Store,
  model: Model,
  g: number,
  mine: { state: TrainerState; resumedFrom?: string },
  timeoutMs: number,
): Promise<{ state: TrainerState; resumedFrom?: string }> {
  if (group.rank === 0) {
    const opt = await model.getOptimizerState();
    const meta: StateMeta = {
      state: mine.state,
      optLayout: opt.tensors.map((t) => ({ name: t.name, shape: t.shape })),
      optConfig: opt.config,
      resumedFrom: mine.resumedFrom,
    };
    await store.set(K.state(g), JSON.stringify(meta));
  }
  const meta = JSON.parse(await store.get(K.state(g), timeoutMs)) as StateMeta;
  const modelState = await model.getState();
  const opt =
    group.rank === 0
      ? (await model.getOptimizerState()).tensors
      : meta.optLayout.map((l) => ({ ...l, data: new Float32Array(l.shape.reduce((a, b) => a * b, 1)) }));
  const tensors: NamedTensor[] = [...modelState.tensors, ...opt];
  const flat = flatten(tensors);
  await group.broadcast(flat, 0);
  if (group.rank === 0) return mine;
  scatter(flat, tensors);
  await model.setState({ tensors: tensors.slice(0, modelState.tensors.length) });
  if (opt.length)
    await model.setOptimizerState({
      config: meta.optConfig,
      tensors: tensors.slice(modelState.tensors.length),
    });
  return { state: meta.state, resumedFrom: meta.resumedFrom };
}

/**
 * Checks that every replica holds the same weights: each contributes a plain and a position-weighted sum of
 * its parameters; the max over the group equals each one's own (and the max of the negatives too) only when
 * all agree.
 */
export async function replicasIdentical(group: ProcessGroup, model: Model): Promise<boolean> {
  const params = await model.getParameters();
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < params.length; i++) {
    sum += params[i] as number;
    weighted += (params[i] as number) * ((i % 997) + 1);
  }
  const check = new Float32Array([sum, weighted, -sum, -weighted]);
  await group.allreduce(check, 'max');
  return (
    check[0] === Math.fround(sum) &&
    check[1] === Math.fround(weighted) &&
    -(check[2] as number) === Math.fround(sum) &&
    -(check[3] as number) === Math.fround(weighted)
  );
}

/** Batch-norm statistics drift per replica (each sees other data); rank 0's become everyone's. */
export async function syncBuffers(group: ProcessGroup, model: Model): Promise<void> {
  const st = await model.getState();
  const flat = flatten(st.tensors);
  await group.broadcast(flat, 0);
  if (group.rank !== 0) {
    scatter(flat, st.tensors);
    await model.setState(st);
  }
}
