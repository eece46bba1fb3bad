// What an encoded image will cost to decode, read from its header alone (PNG IHDR, JPEG SOFn) so a request's
// decode budget is checked before a single pixel is inflated: a 16 KB PNG can declare 4096x4096 pixels.
import { badRequest } from '../errors.js';

/** Largest image side we agree to decode: bounds the memory a single image can make us use. */
export const MAX_IMAGE_SIDE = 4096;

export type ImageFormat = 'png' | 'jpeg';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** Bytes the decoder writes: PNG inflated scanlines plus pngjs's RGBA output; JPEG one sample per component. */
  decodedBytes: number;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
// PNG colour type → channels (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA).
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** The format and declared size of JPEG or PNG bytes; a 400 naming `where` when they are neither or too big. */
export function imageHeader(bytes: Uint8Array, where = 'image_bytes'): ImageHeader {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b))
    return checkSize(pngHeader(bytes, where), where);
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff)
    return checkSize(jpegHeader(bytes, where), where);
  throw badRequest(`${where} is not a JPEG or PNG image (unrecognised signature)`);
}

function checkSize(h: ImageHeader, where: string): ImageHeader {
  const { width, height } = h;
  if (width < 1 || height < 1 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw badRequest(`${where}: image is ${width}x${height}; each side must be 1..${MAX_IMAGE_SIDE} pixels`);
  }
  return h;
}

// IHDR is always the first chunk: length, "IHDR", width, height, bit depth, colour type.
function pngHeader(bytes: Uint8Array, where: string): ImageHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 26 || view.getUint32(12) !== 0x49484452) {
    throw badRequest(`${where} is not a decodable PNG: it has no IHDR header`);
  }
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const depth = bytes[24] as number;
  const channels = PNG_CHANNELS[bytes[25] as number] ?? 4;
  const rowBytes = 1 + Math.ceil((width * channels * depth) / 8);
  return { format: 'png', width, height, decodedBytes: height * rowBytes + width * height * 4 };
}

// Start-of-frame markers C0..CF except DHT (C4), JPG (C8) and DAC (CC).
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

// Walks the marker segments up to the first frame header: precision, height, width, components.
function jpegHeader(bytes: Uint8Array, where: string): ImageHeader {
  const fail = (why: string) => badRequest(`${where} is not a decodable JPEG: ${why}`);
  let i = 2;
  while (i + 3 < bytes.length) {
    if (bytes[i] !== 0xff) throw fail(`no marker at byte ${i}`);
    const marker = bytes[i + 1] as number;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // standalone markers carry no length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // scan data or end before any frame header
    const length = ((bytes[i + 2] as number) << 8) | (bytes[i + 3] as number);
    if (isSof(marker)) {
      if (i + 9 >= bytes.length) break;
      const height = ((bytes[i + 5] as number) << 8) | (bytes[i + 6] as number);
      const width = ((bytes[i + 7] as number) << 8) | (bytes[i + 8] as number);
      const components = bytes[i + 9] as number;
      return { format: 'jpeg', width, height, decodedBytes: width * height * Math.max(1, components) };
    }
    if (length < 2) throw fail(`bad segment length at byte ${i}`);
    i += 2 + length;
  }
  throw fail('no frame header (SOF) before the image data');
}
