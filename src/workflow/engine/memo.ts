import type { NodeOutputs } from '../../metadata/index.js';
import type { RunContext } from './context.js';

/** A memoized template's cache address for one node, with its maxAge. */
export interface MemoPlan {
  key: string;
  cacheName: string;
  maxAgeMs?: number;
}

/** Argo's rule: an entry hits when its key matches and it was saved less than maxAge ago. */
export function lookupMemo(ctx: RunContext, plan: MemoPlan): NodeOutputs | undefined {
  const entry = ctx.store.getMemo(plan.cacheName, plan.key);
  if (!entry) return undefined;
  if (plan.maxAgeMs !== undefined && Date.now() - entry.createdAt >= plan.maxAgeMs) return undefined;
  ctx.store.touchMemo(plan.cacheName, plan.key);
  return entry.outputs;
}

export function saveMemo(ctx: RunContext, plan: MemoPlan, node: string, outputs: NodeOutputs): void {
  ctx.store.putMemo({
    cacheName: plan.cacheName,
    key: plan.key,
    outputs,
    node: `${ctx.run}/${node}`,
    expiresAt: plan.maxAgeMs !== undefined ? Date.now() + plan.maxAgeMs : null,
  });
}
