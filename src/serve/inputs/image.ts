// Image bytes → one model input, the way the book's serving signature does it (Listing 9.20):
// decode JPEG or PNG to one channel, resize to 28×28 bilinearly (tf.image.resize: half-pixel centres, no
// antialiasing), cast to uint8 (truncating, as tf.cast does), then scale by 1/255 as in training.
// JPEG (the book's request) is decoded natively by libjpeg-turbo; PNG by pngjs.
import { PNG } from 'pngjs';
import { decodeJpegGray, EngineError } from '../../engine/index.js';
import { badRequest } from '../errors.js';

/** Largest image we agree to decode: bounds the memory a single request can make us use. */
export const MAX_IMAGE_SIDE = 4096;
const MAX_PIXELS = 16_000_000;

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

interface Gray {
  width: number;
  height: number;
  /** Luma 0..255, row-major. */
  pixels: Uint8Array;
}

/** Decodes JPEG or PNG bytes into `size`×`size` values in [0, 1] (written into `out` at `offset`). */
export function imageToInput(bytes: Uint8Array, out: Float32Array, offset: number, size = 28): void {
  const gray = decodeGray(bytes);
  resizeBilinear(gray, size, size, out, offset);
}

function decodeGray(bytes: Uint8Array): Gray {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return decodePng(bytes);
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff)
    return decodeJpeg(bytes);
  throw badRequest('image_bytes is not a JPEG or PNG image (unrecognised signature)');
}

function decodeJpeg(bytes: Uint8Array): Gray {
  try {
    return decodeJpegGray(bytes, MAX_IMAGE_SIDE, MAX_PIXELS);
  } catch (err) {
    if (err instanceof EngineError) throw badRequest(`image_bytes: ${err.message}`);
    throw err;
  }
}

function decodePng(bytes: Uint8Array): Gray {
  // Check the declared size before inflating anything (IHDR is always first: width, height at 16..24).
  if (bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    checkSize(view.getUint32(16), view.getUint32(20));
  }
  let img;
  try {
    img = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw badRequest(`image_bytes is not a decodable PNG: ${(err as Error).message ?? String(err)}`);
  }
  return toGray(img.width, img.height, img.data);
}

function checkSize(width: number, height: number): void {
  if (width < 1 || height < 1 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw badRequest(`image is ${width}x${height}; each side must be 1..${MAX_IMAGE_SIDE} pixels`);
  }
}

/** RGBA → luma with ITU-R BT.601 weights (what libjpeg uses for one-channel decoding); alpha is ignored. */
function toGray(width: number, height: number, rgba: Uint8Array): Gray {
  checkSize(width, height);
  const pixels = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < pixels.length; i++, j += 4) {
    pixels[i] = Math.round(0.299 * (rgba[j] ?? 0) + 0.587 * (rgba[j + 1] ?? 0) + 0.114 * (rgba[j + 2] ?? 0));
  }
  return { width, height, pixels };
}

/** tf.image.resize(method='bilinear') weights along one axis: source index pair and fraction. */
function axisWeights(
  inSize: number,
  outSize: number,
): { lo: Int32Array; hi: Int32Array; frac: Float32Array } {
  const scale = inSize / outSize;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const x = (o + 0.5) * scale - 0.5;
    const f = Math.floor(x);
    lo[o] = Math.max(f, 0);
    hi[o] = Math.min(Math.ceil(x), inSize - 1);
    frac[o] = x - f;
  }
  return { lo, hi, frac };
}

function resizeBilinear(img: Gray, outH: number, outW: number, out: Float32Array, offset: number): void {
  const p = img.pixels;
  if (img.width === outW && img.height === outH) {
    // Half-pixel centres at scale 1 land on the pixels themselves: resizing is the identity.
    for (let i = 0; i < p.length; i++) out[offset + i] = (p[i] as number) / 255;
    return;
  }
  const ys = axisWeights(img.height, outH);
  const xs = axisWeights(img.width, outW);
  for (let y = 0; y < outH; y++) {
    const top = (ys.lo[y] as number) * img.width;
    const bottom = (ys.hi[y] as number) * img.width;
    const fy = ys.frac[y] as number;
    for (let x = 0; x < outW; x++) {
      const l = xs.lo[x] as number;
      const r = xs.hi[x] as number;
      const fx = xs.frac[x] as number;
      const t = (p[top + l] as number) + ((p[top + r] as number) - (p[top + l] as number)) * fx;
      const b = (p[bottom + l] as number) + ((p[bottom + r] as number) - (p[bottom + l] as number)) * fx;
      const v = Math.min(255, Math.max(0, t + (b - t) * fy));
      out[offset + y * outW + x] = Math.trunc(v) / 255;
    }
  }
}
