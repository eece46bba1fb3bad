// One request's examples → one Float32Array of model inputs (NHWC, 28×28×1, values in [0, 1]).
// Accepted per example: image bytes as {"b64": "<JPEG or PNG>"} (optionally keyed by the input name, as in
// the book: {"image_bytes": {"b64": ...}}), or pixels in [0, 1] shaped [28,28], [28,28,1] or [784].
// Parsing only collects the images; they are decoded afterwards, within the request's budget (decode.ts).
import { badRequest } from '../errors.js';
import type { ImageJob } from './decode.js';

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;
const NEEDS_NORMALISING = /[\s_-]/;

/** Strict base64 (standard or URL-safe alphabet, padding optional) → bytes; anything else is a 400. */
export function decodeBase64(text: unknown, where: string): Uint8Array {
  if (typeof text !== 'string') throw badRequest(`${where}: "b64" must be a string`);
  const s = NEEDS_NORMALISING.test(text)
    ? text.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/')
    : text;
  if (s.length === 0) throw badRequest(`${where}: "b64" is empty`);
  if (!BASE64_CHARS.test(s) || !validLength(s)) throw badRequest(`${where}: "b64" is not valid base64`);
  return Buffer.from(s, 'base64');
}

/** Padded: a multiple of 4 with 1 or 2 '='; unpadded: any length but 4k + 1 (which cannot end a byte). */
function validLength(s: string): boolean {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const body = s.length - pad;
  return pad === 0 ? body % 4 !== 1 : s.length % 4 === 0 && body % 4 === 4 - pad;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A request's inputs: pixels already in place, images still to decode into their slots. */
export interface ParsedInputs {
  inputs: Float32Array;
  images: ImageJob[];
}

/**
 * Writes one example into `out` at example slot `slot`, or queues its image in `images` for decoding.
 * `where` names it in errors (e.g. "instances[3]").
 */
export function writeExample(
  value: unknown,
  inputName: string,
  out: Float32Array,
  slot: number,
  where: string,
  images: ImageJob[],
): void {
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === 'b64') {
      images.push({ bytes: decodeBase64(value.b64, where), offset: slot * PIXELS, where });
      return;
    }
    if (keys.length === 1 && keys[0] === inputName) {
      writeExample(value[inputName], inputName, out, slot, `${where}.${inputName}`, images);
      return;
    }
    throw badRequest(
      `${where}: expected {"${inputName}": ...} or {"b64": ...}, got an object with keys ${JSON.stringify(keys.slice(0, 5))}; this model's only input is "${inputName}"`,
    );
  }
  if (Array.isArray(value)) {
    writePixels(value, out, slot * PIXELS, where);
    return;
  }
  throw badRequest(
    `${where}: expected image bytes as {"b64": "..."} or pixels shaped [28,28], [28,28,1] or [784], got ${typeof value === 'string' ? 'a bare string (wrap base64 as {"b64": ...})' : JSON.stringify(value)}`,
  );
}

function pixel(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
    throw badRequest(
      `${where}: pixel values must be numbers in [0, 1] (got ${JSON.stringify(v) ?? String(v)})`,
    );
  }
  return v;
}

/** Pixels shaped [784], [28,28] or [28,28,1]. */
function writePixels(rows: unknown[], out: Float32Array, offset: number, where: string): void {
  const shapeError = () => badRequest(`${where}: pixel arrays must be shaped [28,28], [28,28,1] or [784]`);
  if (rows.length === PIXELS) {
    for (let i = 0; i < PIXELS; i++) out[offset + i] = pixel(rows[i], `${where}[${i}]`);
    return;
  }
  if (rows.length !== SIDE) throw shapeError();
  for (let y = 0; y < SIDE; y++) {
    const row = rows[y];
    if (!Array.isArray(row) || row.length !== SIDE) throw shapeError();
    for (let x = 0; x < SIDE; x++) {
      let v = row[x];
      if (Array.isArray(v)) {
        if (v.length !== 1) throw shapeError();
        v = v[0];
      }
      out[offset + y * SIDE + x] = pixel(v, `${where}[${y}][${x}]`);
    }
  }
}

/** A list of examples → their inputs, one slot of 784 values each (images still to decode). */
export function examplesToInputs(list: unknown[], inputName: string, field: string): ParsedInputs {
  if (list.length === 0) throw badRequest(`"${field}" is empty: send at least one example`);
  const out = new Float32Array(list.length * PIXELS);
  const images: ImageJob[] = [];
  list.forEach((v, i) => writeExample(v, inputName, out, i, `${field}[${i}]`, images));
  return { inputs: out, images };
}
