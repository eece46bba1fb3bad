// PNG bytes → one-channel pixels with pngjs. Pure JavaScript with no addon, so the decode workers
// (png-pool.ts) can run it: inflating a large PNG takes seconds of CPU, which must not be the event loop's.
import { PNG } from 'pngjs';
import { badRequest } from '../errors.js';
import { MAX_IMAGE_SIDE } from './header.js';
import { resizeBilinear, type Gray } from './resize.js';

/** PNG bytes → `size`×`size` values in [0, 1] in `out` at `offset`. */
export function pngToInput(bytes: Uint8Array, out: Float32Array, offset: number, size = 28): void {
  resizeBilinear(decodePng(bytes), size, size, out, offset);
}

/** PNG bytes → luma (BT.601); a 400 when they do not decode. */
export function decodePng(bytes: Uint8Array): Gray {
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
