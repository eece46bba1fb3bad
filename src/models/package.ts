import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  createModel,
  inspectModelSpec,
  parseModelSpec,
  type Model,
  type ModelSpec,
  type NamedTensor,
} from '../engine/index.js';
import { ATTESTATION, attestScore } from './attestation.js';
import { replaceDirAtomic, resolveDir } from '../durable/index.js';
import { ModelError } from './errors.js';
import { decodeSafetensors, encodeSafetensors, f32Tensor, f32Values } from './safetensors.js';

export const MANIFEST = 'model.json';
export const WEIGHTS = 'weights.safetensors';
export const PACKAGE_FORMAT = 'distml-model/v1';

const manifestSchema = z.object({
  format: z.literal(PACKAGE_FORMAT),
  name: z.string().min(1),
  spec: z.unknown(),
  inputSignature: z.object({
    name: z.string(),
    shape: z.array(z.number().int().nullable()),
    dtype: z.literal('float32'),
  }),
  classNames: z.array(z.string()),
  preprocessing: z.object({
    layout: z.literal('NHWC'),
    scale: z.string(),
    range: z.tuple([z.number(), z.number()]),
  }),
  params: z.number().int().nonnegative(),
  metrics: z.record(z.string(), z.number()),
  lineage: z.record(z.string(), z.unknown()),
  weights: z.literal(WEIGHTS),
  /** SHA-256 of weights.safetensors, checked on load: metrics and lineage belong to exactly these weights. */
  weightsSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits')
    .optional(),
});

/** model.json: everything needed to rebuild, serve and trace a trained model. */
export type Manifest = z.infer<typeof manifestSchema> & { spec: ModelSpec };

export interface SavePackageInput {
  name: string;
  spec: ModelSpec;
  tensors: NamedTensor[];
  classNames: readonly string[];
  metrics: Record<string, number>;
  lineage: Record<string, unknown>;
  inputName?: string;
  /** The workspace's score key: the recorded test figures get its HMAC, which selection there trusts. */
  scoreKey?: Uint8Array;
}

/** The manifest for a model about to be saved. */
export function buildManifest(input: SavePackageInput): Manifest {
  const info = inspectModelSpec(input.spec);
  return {
    format: PACKAGE_FORMAT,
    name: input.name,
    spec: input.spec,
    inputSignature: {
      name: input.inputName ?? 'image_bytes',
      shape: [null, ...info.inputShape],
      dtype: 'float32',
    },
    classNames: [...input.classNames],
    preprocessing: { layout: 'NHWC', scale: 'pixel / 255', range: [0, 1] },
    params: info.paramCount,
    metrics: input.metrics,
    lineage: input.lineage,
    weights: WEIGHTS,
  };
}

/**
 * Writes a model package (model.json + weights.safetensors) to `dir` atomically and durably (fsynced): readers
 * see the old package or the new one, never half of one, and never a moment with none — `dir` is a symlink
 * swapped to the new content (see replaceDirAtomic).
 */
export async function savePackage(dir: string, input: SavePackageInput): Promise<Manifest> {
  const weights = encodeSafetensors(
    input.tensors.map((t) => f32Tensor(t.name, t.shape, t.data)),
    { format: 'pt', producer: 'distml', model: input.name },
  );
  const manifest: Manifest = { ...buildManifest(input), weightsSha256: sha256(weights) };
  const attestation = input.scoreKey ? attestScore(input.scoreKey, manifest) : undefined;
  if (attestation) manifest.lineage = { ...manifest.lineage, [ATTESTATION]: attestation };
  await replaceDirAtomic(dir, { [MANIFEST]: `${JSON.stringify(manifest, null, 2)}\n`, [WEIGHTS]: weights });
  return manifest;
}

export interface LoadedPackage {
  dir: string;
  manifest: Manifest;
  tensors: NamedTensor[];
}

/** Reads and validates a model package; errors name the file and the problem. */
export async function readPackage(dir: string): Promise<LoadedPackage> {
  // Both files from one content: a replacement swapping `dir` between our two reads cannot mix two saves.
  const real = await resolveDir(dir);
  const mpath = join(real, MANIFEST);
  let raw: string;
  try {
    raw = await readFile(mpath, 'utf8');
  } catch {
    throw new ModelError(
      'MODEL_NOT_FOUND',
      `no model package at ${dir} (${MANIFEST} missing); train one with \`distml train --out ${dir}\``,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new ModelError('MODEL_BAD_PACKAGE', `${mpath}: not JSON (${(err as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new ModelError('MODEL_BAD_PACKAGE', `${mpath}: ${i?.path.join('.') || 'document'}: ${i?.message}`);
  }
  const spec = parseModelSpec(parsed.data.spec);
  const wpath = join(real, WEIGHTS);
  const buf = await readFile(wpath).catch(() => {
    throw new ModelError('MODEL_BAD_PACKAGE', `${wpath}: missing`);
  });
  const { tensors } = decodeSafetensors(buf, wpath);
  const recorded = parsed.data.weightsSha256;
  if (recorded !== undefined && sha256(buf) !== recorded) {
    throw new ModelError(
      'MODEL_BAD_PACKAGE',
      `${wpath}: its SHA-256 is not the weightsSha256 in ${MANIFEST}: the two files come from different saves; save the package again`,
    );
  }
  return {
    dir,
    manifest: { ...parsed.data, spec },
    tensors: tensors.map((t) => ({ name: t.name, shape: t.shape, data: f32Values(t) })),
  };
}

/** Hex SHA-256 of some bytes (the package's weights digest). */
export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Loads a package into a ready-to-use engine model (weights set, eval-ready). */
export async function loadModel(dir: string): Promise<{ model: Model; manifest: Manifest }> {
  return modelOf(await readPackage(dir));
}

/** A ready-to-use engine model from a package already read. */
export async function modelOf(pkg: LoadedPackage): Promise<{ model: Model; manifest: Manifest }> {
  const model = createModel(pkg.manifest.spec);
  try {
    await model.setState({ tensors: pkg.tensors });
  } catch (err) {
    await model.dispose();
    throw new ModelError(
      'MODEL_BAD_PACKAGE',
      `${join(pkg.dir, WEIGHTS)}: weights do not fit the spec: ${(err as Error).message}`,
    );
  }
  return { model, manifest: pkg.manifest };
}
