// A request's images → model inputs, within a per-request decode budget and off the event loop. Every
// header is read first (imageHeader), so a request whose images would decode to more pixels or bytes than
// the budget is refused with a 413 before any of them is inflated; then PNGs go to the decode threads
// (png-pool.ts) and JPEGs to libjpeg-turbo on the libuv pool, all at once.
import { ServeError } from '../errors.js';
import { imageHeader, type ImageHeader } from './header.js';
import { imageToInput, jpegToInputAsync } from './image.js';
import { PngPool } from './png-pool.js';

/** One encoded image of a request and the place its inputs go. */
export interface ImageJob {
  bytes: Uint8Array;
  /** Offset in the request's input array (example slot × 784). */
  offset: number;
  /** Names the example in errors, e.g. "instances[3].image_bytes". */
  where: string;
}

export interface DecodeOptions {
  /** Most pixels (width × height, summed over a request's images) decoded for one request. */
  maxPixels?: number;
  /** Most bytes the decoders may write for one request (see ImageHeader.decodedBytes). */
  maxBytes?: number;
  /** PNG decode threads. Default 1. */
  threads?: number;
}

/** Two 4096×4096 images, or ~42,000 of the book's 28×28 ones. */
export const DEFAULT_MAX_DECODE_PIXELS = 32 * 1024 * 1024;
/** 256 MiB: two 4096×4096 8-bit RGBA PNGs fit, two 16-bit ones do not. */
export const DEFAULT_MAX_DECODE_BYTES = 256 * 1024 * 1024;
// Small images are cheaper to decode in place than to hand to a thread; up to this many pixels per request
// (64 of the book's 28×28 images, about a millisecond) are decoded on the event loop.
const INLINE_PIXELS = 64 * 28 * 28;

/** Decodes requests' images within their budget; owns the PNG decode threads (close() ends them). */
export class ImageDecoder {
  private readonly png: PngPool;
  readonly maxPixels: number;
  readonly maxBytes: number;

  constructor(opts: DecodeOptions = {}) {
    this.maxPixels = opts.maxPixels ?? DEFAULT_MAX_DECODE_PIXELS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_DECODE_BYTES;
    this.png = new PngPool(opts.threads ?? 1);
  }

  /** Writes each job's 28×28 inputs into `out`; 400 for a bad image, 413 over budget, rejects on `signal`. */
  async decode(jobs: ImageJob[], out: Float32Array, signal?: AbortSignal, size = 28): Promise<void> {
    if (jobs.length === 0) return;
    const headers = jobs.map((j) => imageHeader(j.bytes, j.where));
    this.checkBudget(headers);
    let inline = 0;
    await Promise.all(
      jobs.map(async (job, i) => {
        const h = headers[i] as ImageHeader;
        const pixels = h.width * h.height;
        if (inline + pixels <= INLINE_PIXELS) {
          inline += pixels;
          return imageToInput(job.bytes, out, job.offset, size);
        }
        signal?.throwIfAborted();
        if (h.format === 'jpeg') return jpegToInputAsync(job.bytes, out, job.offset, size);
        out.set(await this.png.decode(job.bytes, size, signal), job.offset);
      }),
    );
  }

  /** Ends the PNG decode threads. */
  close(): Promise<void> {
    return this.png.close();
  }

  private checkBudget(headers: ImageHeader[]): void {
    let pixels = 0;
    let bytes = 0;
    for (const h of headers) {
      pixels += h.width * h.height;
      bytes += h.decodedBytes;
    }
    const n = `${headers.length} image${headers.length === 1 ? '' : 's'}`;
    if (pixels > this.maxPixels) {
      throw new ServeError(
        'SERVE_TOO_LARGE',
        `the request's ${n} would decode to ${pixels} pixels, over this server's budget of ${this.maxPixels} pixels per request (--max-decode-pixels); send fewer or smaller images per request, or raise --max-decode-pixels`,
      );
    }
    if (bytes > this.maxBytes) {
      throw new ServeError(
        'SERVE_TOO_LARGE',
        `the request's ${n} would decode to ${bytes} bytes, over this server's budget of ${this.maxBytes} bytes per request (--max-decode-bytes); send fewer, smaller or 8-bit images per request, or raise --max-decode-bytes`,
      );
    }
  }
}
