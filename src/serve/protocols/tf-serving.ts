// TF Serving's REST API (= KServe V1): request parsing and response shapes.
// https://www.tensorflow.org/tfx/serving/api_rest — row format {"instances": [...]} answers
// {"predictions": [...]}; columnar format {"inputs": ...} answers {"outputs": ...}.
import type { Manifest } from '../../models/index.js';
import { badRequest } from '../errors.js';
import type { ImageJob } from '../inputs/decode.js';
import { examplesToInputs } from '../inputs/instances.js';
import type { VersionStatus } from '../versions.js';

export interface PredictRequest {
  inputs: Float32Array;
  /** Images to decode into `inputs` before predicting. */
  images: ImageJob[];
  count: number;
  /** True for the columnar {"inputs": ...} format, which TF Serving answers with {"outputs": ...}. */
  columnar: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a :predict body into model inputs; every problem is a 400 saying what to change. */
export function parsePredict(body: unknown, inputName: string): PredictRequest {
  if (!isObject(body)) throw badRequest('request body must be a JSON object such as {"instances": [...]}');
  const { instances, inputs, signature_name: signature } = body;
  if (signature !== undefined && signature !== 'serving_default') {
    throw badRequest(
      `unknown signature_name ${JSON.stringify(signature)}; this model has only "serving_default"`,
    );
  }
  if (instances !== undefined && inputs !== undefined) {
    throw badRequest('give either "instances" (row format) or "inputs" (columnar format), not both');
  }
  if (instances !== undefined) {
    if (!Array.isArray(instances)) throw badRequest('"instances" must be a list with one entry per example');
    return {
      ...examplesToInputs(instances, inputName, 'instances'),
      count: instances.length,
      columnar: false,
    };
  }
  if (inputs !== undefined) {
    // Columnar: the batch itself, or {"<input name>": batch} (this model has one input).
    let list: unknown = inputs;
    if (isObject(inputs)) {
      const keys = Object.keys(inputs);
      if (keys.length !== 1 || keys[0] !== inputName) {
        throw badRequest(
          `"inputs" must be a list or {"${inputName}": [...]}; this model's only input is "${inputName}"`,
        );
      }
      list = inputs[inputName];
    }
    if (!Array.isArray(list)) throw badRequest(`"inputs" must hold a list with one entry per example`);
    return { ...examplesToInputs(list, inputName, 'inputs'), count: list.length, columnar: true };
  }
  throw badRequest('request body needs "instances" (a list of examples) or "inputs"');
}

/** float32 values as JSON numbers with 9 significant digits (enough to round-trip a float32). */
export function roundFloats(values: Float32Array): number[] {
  return Array.from(values, (v) => Number(v.toPrecision(9)));
}

/** Per-example rows of `width` values. */
export function rows(values: Float32Array, count: number, width: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < count; i++) out.push(roundFloats(values.subarray(i * width, (i + 1) * width)));
  return out;
}

/** The :predict answer: a list of 10 class probabilities per example, exactly what the book's client prints. */
export function predictResponse(
  probs: Float32Array,
  req: PredictRequest,
  classes: number,
): Record<string, unknown> {
  const r = rows(probs, req.count, classes);
  return req.columnar ? { outputs: r } : { predictions: r };
}

/** GET /v1/models/NAME[/versions/V]: TF Serving's GetModelStatus answer. */
export function statusResponse(status: VersionStatus[]): Record<string, unknown> {
  return {
    model_version_status: status.map((s) => ({
      version: String(s.version),
      state: s.state,
      status: { error_code: s.error ? 'UNKNOWN' : 'OK', error_message: s.error ?? '' },
    })),
  };
}

const dims = (shape: (number | null)[]) => ({
  dim: shape.map((d) => ({ size: String(d ?? -1), name: '' })),
  unknown_rank: false,
});

/** GET /v1/models/NAME[/versions/V]/metadata: the serving signature, plus class names and lineage. */
export function metadataResponse(name: string, version: number, m: Manifest): Record<string, unknown> {
  const input = m.inputSignature;
  return {
    model_spec: { name, signature_name: '', version: String(version) },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: {
            inputs: {
              [input.name]: {
                dtype: 'DT_FLOAT',
                tensor_shape: dims(input.shape),
                name: `serving_default_${input.name}:0`,
              },
            },
            outputs: {
              probabilities: {
                dtype: 'DT_FLOAT',
                tensor_shape: dims([null, m.classNames.length]),
                name: 'StatefulPartitionedCall:0',
              },
            },
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
      // Not in TF Serving's answer; extra fields a client can use to label predictions.
      distml: {
        model: m.name,
        class_names: m.classNames,
        preprocessing: m.preprocessing,
        accepted_inputs: [
          '{"b64": "<JPEG or PNG bytes>"} (grayscale, resized to 28x28 bilinearly, scaled by 1/255)',
          'pixels in [0, 1] shaped [28,28], [28,28,1] or [784]',
        ],
        metrics: m.metrics,
        lineage: m.lineage,
      },
    },
  };
}
