// Image bytes → one model input, the way the book's serving signature does it (Listing 9.20):
// decode JPEG or PNG to one channel, resize to 28×28 bilinearly (tf.image.resize: half-pixel centres, no
// antialiasing), cast to uint8 (truncating, as tf.cast does), then scale by 1/255 as in training.
// JPEG (the book's request) is decoded natively by libjpeg-turbo; PNG by pngjs. The server decodes off the
// event loop (inputs/decode.ts: PNG on worker threads, JPEG on the libuv pool); imageToInput is the same
// decode in the calling thread.
import { decodeJpegGray, decodeJpegGrayAsync, EngineError, type GrayImage } from '../../engine/index.js';
import { badRequest } from '../errors.js';
import { imageHeader, MAX_IMAGE_SIDE } from './header.js';
import { decodePng } from './png.js';
import { resizeBilinear } from './resize.js';

export { MAX_IMAGE_SIDE };
const MAX_PIXELS = 16_000_000;

/** Decodes JPEG or PNG bytes into `size`×`size` values in [0, 1] (written into `out` at `offset`), in this thread. */
export function imageToInput(bytes: Uint8Array, out: Float32Array, offset: number, size = 28): void {
  const format = imageHeader(bytes).format;
  const gray =
    format === 'png' ? decodePng(bytes) : jpegResult(() => decodeJpegGray(bytes, MAX_IMAGE_SIDE, MAX_PIXELS));
  resizeBilinear(gray, size, size, out, offset);
}

/** JPEG bytes → `size`×`size` inputs, decoded by libjpeg-turbo on the libuv pool (the event loop only resizes). */
export async function jpegToInputAsync(
  bytes: Uint8Array,
  out: Float32Array,
  offset: number,
  size = 28,
): Promise<void> {
  let gray: GrayImage;
  try {
    gray = await decodeJpegGrayAsync(bytes, MAX_IMAGE_SIDE, MAX_PIXELS);
  } catch (err) {
    throw jpegError(err);
  }
  resizeBilinear(gray, size, size, out, offset);
}

function jpegResult(decode: () => GrayImage): GrayImage {
  try {
    return decode();
  } catch (err) {
    throw jpegError(err);
  }
}

function jpegError(err: unknown): unknown {
  return err instanceof EngineError ? badRequest(`image_bytes: ${err.message}`) : err;
}
