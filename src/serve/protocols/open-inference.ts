// KServe V2 / Open Inference Protocol (REST): request parsing and response shapes.
// https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
import type { Manifest } from '../../models/index.js';
import { badRequest } from '../errors.js';
import type { ImageJob } from '../inputs/decode.js';
import { decodeBase64, PIXELS, writeExample, type ParsedInputs } from '../inputs/instances.js';
import { roundFloats } from './tf-serving.js';

export const OUTPUT_PROBS = 'probabilities';
export const OUTPUT_CLASS = 'class';
const OUTPUT_NAMES = [OUTPUT_PROBS, OUTPUT_CLASS];

export interface InferRequest {
  id?: string;
  inputs: Float32Array;
  /** Images to decode into `inputs` before predicting. */
  images: ImageJob[];
  count: number;
  /** Requested output names (default: all). */
  outputs: string[];
}

const FLOAT_TYPES = new Set(['FP16', 'FP32', 'FP64']);
const INT_TYPES = new Set(['UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Nested lists → one flat list (row-major), as the protocol allows either form for "data". */
function flatten(data: unknown[], limit: number): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (v: unknown, depth: number) => {
    if (out.length > limit) return;
    if (Array.isArray(v)) {
      if (depth > 8) throw badRequest('"data" is nested too deeply');
      for (const x of v) walk(x, depth + 1);
    } else out.push(v);
  };
  walk(data, 0);
  return out;
}

/**
 * Parses an /infer body. The one input (named as the model's input, e.g. image_bytes) is either pixels —
 * FP32/FP64 in [0, 1] or UINT8/INT* in [0, 255], shape [N,28,28,1], [N,28,28] or [N,784] — or BYTES of shape
 * [N] whose elements are base64 JPEG/PNG strings (or {"b64": ...}).
 */
export function parseInfer(body: unknown, inputName: string): InferRequest {
  if (!isObject(body)) throw badRequest('request body must be a JSON object such as {"inputs": [...]}');
  const { id, inputs, outputs } = body;
  if (id !== undefined && typeof id !== 'string') throw badRequest('"id" must be a string');
  if (!Array.isArray(inputs) || inputs.length !== 1) {
    throw badRequest(`"inputs" must be a list with exactly one tensor, named "${inputName}"`);
  }
  const t = inputs[0] as unknown;
  if (!isObject(t)) throw badRequest('"inputs"[0] must be an object {name, shape, datatype, data}');
  if (t.name !== inputName) {
    throw badRequest(`unknown input ${JSON.stringify(t.name)}; this model's only input is "${inputName}"`);
  }
  const shape = t.shape;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw badRequest('"shape" must be a non-empty list of positive integers');
  }
  if (typeof t.datatype !== 'string') throw badRequest('"datatype" must be a string such as "FP32"');
  if (!Array.isArray(t.data)) throw badRequest('"data" must be a list');
  const count = shape[0] as number;
  const total = (shape as number[]).reduce((a, b) => a * b, 1);
  const data = flatten(t.data, total);
  if (data.length !== total) {
    throw badRequest(`"data" has ${data.length} elements but shape ${JSON.stringify(shape)} needs ${total}`);
  }
  const x =
    t.datatype === 'BYTES'
      ? bytesInputs(data, shape as number[])
      : { inputs: pixelInputs(data, shape as number[], t.datatype), images: [] };
  return { id, ...x, count, outputs: parseOutputs(outputs) };
}

function bytesInputs(data: unknown[], shape: number[]): ParsedInputs {
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw badRequest('BYTES input must have shape [N] (one encoded image per example)');
  }
  const out = new Float32Array(data.length * PIXELS);
  const images: ImageJob[] = [];
  data.forEach((v, i) => {
    const where = `inputs[0].data[${i}]`;
    if (typeof v === 'string') images.push({ bytes: decodeBase64(v, where), offset: i * PIXELS, where });
    else writeExample(v, '\0', out, i, where, images);
  });
  return { inputs: out, images };
}

function pixelInputs(data: unknown[], shape: number[], datatype: string): Float32Array {
  const perExample = shape.slice(1).join(',');
  if (!['28,28,1', '28,28', '784'].includes(perExample)) {
    throw badRequest(
      `pixel input shape must be [N,28,28,1], [N,28,28] or [N,784] (got ${JSON.stringify(shape)})`,
    );
  }
  const int = INT_TYPES.has(datatype);
  if (!int && !FLOAT_TYPES.has(datatype)) {
    throw badRequest(
      `datatype ${datatype} is not supported: use FP32 (values in [0, 1]), UINT8 (0..255) or BYTES`,
    );
  }
  const max = int ? 255 : 1;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max || (int && !Number.isInteger(v))) {
      throw badRequest(
        `inputs[0].data[${i}]: ${datatype} pixel values must be ${int ? 'integers in [0, 255]' : 'numbers in [0, 1]'} (got ${JSON.stringify(v) ?? String(v)})`,
      );
    }
    out[i] = int ? v / 255 : v;
  }
  return out;
}

function parseOutputs(outputs: unknown): string[] {
  if (outputs === undefined) return OUTPUT_NAMES;
  if (!Array.isArray(outputs)) throw badRequest('"outputs" must be a list of {"name": ...}');
  return outputs.map((o, i) => {
    const name = isObject(o) ? o.name : undefined;
    if (typeof name !== 'string' || !OUTPUT_NAMES.includes(name)) {
      throw badRequest(
        `outputs[${i}]: unknown output ${JSON.stringify(name)}; choose from ${OUTPUT_NAMES.join(', ')}`,
      );
    }
    return name;
  });
}

/** The /infer answer: class probabilities [N, classes] (FP32) and the most likely class name [N] (BYTES). */
export function inferResponse(
  name: string,
  version: number,
  req: InferRequest,
  probs: Float32Array,
  classNames: string[],
): Record<string, unknown> {
  const k = classNames.length;
  const outputs: Record<string, unknown>[] = [];
  if (req.outputs.includes(OUTPUT_PROBS)) {
    outputs.push({ name: OUTPUT_PROBS, shape: [req.count, k], datatype: 'FP32', data: roundFloats(probs) });
  }
  if (req.outputs.includes(OUTPUT_CLASS)) {
    const labels: string[] = [];
    for (let i = 0; i < req.count; i++) {
      let best = 0;
      for (let c = 1; c < k; c++)
        if ((probs[i * k + c] as number) > (probs[i * k + best] as number)) best = c;
      labels.push(classNames[best] ?? String(best));
    }
    outputs.push({ name: OUTPUT_CLASS, shape: [req.count], datatype: 'BYTES', data: labels });
  }
  return {
    model_name: name,
    model_version: String(version),
    ...(req.id !== undefined ? { id: req.id } : {}),
    outputs,
    parameters: { class_names: classNames },
  };
}

/** GET /v2/models/NAME[/versions/V]: the model's metadata. */
export function modelMetadata(name: string, versions: number[], m: Manifest): Record<string, unknown> {
  return {
    name,
    versions: versions.map(String),
    platform: 'distml_libtorch',
    inputs: [
      { name: m.inputSignature.name, datatype: 'FP32', shape: m.inputSignature.shape.map((d) => d ?? -1) },
    ],
    outputs: [
      { name: OUTPUT_PROBS, datatype: 'FP32', shape: [-1, m.classNames.length] },
      { name: OUTPUT_CLASS, datatype: 'BYTES', shape: [-1] },
    ],
    parameters: { class_names: m.classNames, model: m.name },
  };
}
