import type { NamedTensor } from '../../engine/index.js';
import { savePackage } from '../../models/index.js';
import { packageMetrics } from '../job.js';
import type { DistributedResult, ResolvedWorkerOptions } from './options.js';

/** The chief's model package: the final weights, the job's figures, and how it was trained (lineage). */
export async function savePackageOf(
  o: ResolvedWorkerOptions,
  tensors: NamedTensor[],
  result: DistributedResult,
  lastCheckpoint: string | undefined,
): Promise<void> {
  await savePackage(o.outDir, {
    name: o.name,
    spec: o.spec,
    tensors,
    classNames: o.classNames,
    metrics: packageMetrics(result),
    scoreKey: o.scoreKey,
    lineage: {
      ...o.lineage,
      epochs: result.epochs,
      steps: result.steps,
      worldSizeAtEnd: result.worldSizeAtEnd,
      lastCheckpoint: lastCheckpoint ?? null,
    },
  });
}
