// Image decoding the engine does in C++ (native/src/image.cc; the measured reason is in its header).
import { EngineError } from './errors.js';
import { loadAddon } from './native.js';

/** A one-channel image: luma 0..255, row-major. */
export interface GrayImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/**
 * Decodes JPEG bytes to luma with libjpeg-turbo, as TensorFlow's `decode_jpeg(channels=1)` does. Images wider
 * or taller than `maxSide`, or over `maxPixels`, are refused before any pixel is decoded; corrupt data
 * (including a truncated scan) is an error, never a partly grey image. Errors are ENGINE_BAD_INPUT.
 */
export function decodeJpegGray(bytes: Uint8Array, maxSide: number, maxPixels: number): GrayImage {
  return grayResult(loadAddon().decodeJpegGray(bytes, maxSide, maxPixels), maxSide, maxPixels);
}

/** `decodeJpegGray` as async work on the libuv pool: a large image never blocks the event loop. */
export async function decodeJpegGrayAsync(
  bytes: Uint8Array,
  maxSide: number,
  maxPixels: number,
): Promise<GrayImage> {
  return grayResult(await loadAddon().decodeJpegGrayAsync(bytes, maxSide, maxPixels), maxSide, maxPixels);
}

function grayResult(
  r: { width?: number; height?: number; pixels?: Uint8Array; error?: string },
  maxSide: number,
  maxPixels: number,
): GrayImage {
  if (r.error === 'size') {
    throw new EngineError(
      'ENGINE_BAD_INPUT',
      `image is ${r.width}x${r.height}; each side must be 1..${maxSide} pixels and the area at most ${maxPixels} pixels`,
    );
  }
  if (r.error !== undefined || !r.pixels) {
    throw new EngineError('ENGINE_BAD_INPUT', `not a decodable JPEG: ${r.error ?? 'no pixels'}`);
  }
  return { width: r.width!, height: r.height!, pixels: r.pixels };
}
