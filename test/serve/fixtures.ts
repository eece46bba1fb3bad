// Shared pieces for serve tests: a repository with real (untrained) model packages, test images, an
// in-process server on a free port, and small HTTP helpers.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { CLASS_NAMES, DEBIAN_DIR, resolveFashionMnist, scaledSplit } from '../../src/data/index.js';
import { createModel } from '../../src/engine/index.js';
import { bookModelSpec, savePackage } from '../../src/models/index.js';
import { publish } from '../../src/registry/index.js';
import { ModelServer, type ModelServerOptions } from '../../src/serve/index.js';

export const hasDebianData = existsSync(join(DEBIAN_DIR, 't10k-images-idx3-ubyte.gz'));

/** A temp dir removed by `cleanup()`. */
export function tempDir(prefix = 'distml-serve-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Saves an untrained but valid package of the book's cnn (weights depend on `seed`). */
export async function makePackage(dir: string, seed = 1, name = 'cnn'): Promise<string> {
  const spec = bookModelSpec(name);
  const model = createModel(spec, { seed });
  try {
    const { tensors } = await model.getState();
    await savePackage(dir, { name, spec, tensors, classNames: CLASS_NAMES, metrics: {}, lineage: { seed } });
  } finally {
    await model.dispose();
  }
  return dir;
}

/** Publishes a fresh package as the next version of `name` in `repo`. */
export async function publishNew(repo: string, name: string, seed: number, scratch: string): Promise<number> {
  const pkg = await makePackage(join(scratch, `pkg-${name}-${seed}-${Date.now()}`), seed);
  return (await publish(repo, name, pkg)).version;
}

/** A 28×28 grayscale image as bytes 0..255: the first Fashion-MNIST test image when Debian's copy exists. */
export async function fashionImage(): Promise<Uint8Array> {
  if (hasDebianData) {
    const ws = tempDir('distml-serve-ws-');
    try {
      const src = await resolveFashionMnist({ source: 'debian', workspace: ws.dir });
      for await (const chunk of scaledSplit('test', src.test, {
        cache: 'none',
        workspace: ws.dir,
      }).chunks()) {
        const first = chunk[0];
        if (first) return Uint8Array.from(first.image, (v) => Math.round(v * 255));
      }
    } finally {
      ws.cleanup();
    }
  }
  return Uint8Array.from({ length: 784 }, (_, i) => ((i % 28) * 9 + Math.floor(i / 28) * 3) % 256);
}

function rgba(gray: Uint8Array, width: number, height: number): Buffer {
  const out = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++)
    out.fill(gray[i] ?? 0, i * 4, i * 4 + 3).writeUInt8(255, i * 4 + 3);
  return out;
}

export function encodeJpeg(gray: Uint8Array, width = 28, height = 28, quality = 95): Buffer {
  return jpeg.encode({ data: rgba(gray, width, height), width, height }, quality).data;
}

export function encodePng(gray: Uint8Array, width = 28, height = 28): Buffer {
  const png = new PNG({ width, height });
  rgba(gray, width, height).copy(png.data);
  return PNG.sync.write(png);
}

/** Starts an in-process server on a free loopback port and waits until it is ready. */
export async function startServer(opts: ModelServerOptions): Promise<{ server: ModelServer; url: string }> {
  const server = new ModelServer({ host: '127.0.0.1', port: 0, pollMs: 200, ...opts });
  const url = await server.listen();
  await server.whenReady(30_000);
  return { server, url };
}

export interface JsonReply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** POSTs (or GETs when body is undefined) and parses the JSON answer. */
export async function call(url: string, body?: unknown, method?: string): Promise<JsonReply> {
  const init: RequestInit = {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json' },
  };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers };
}

/** The book's request (inference-input.json) for one encoded image. */
export function bookRequest(image: Uint8Array): { instances: { image_bytes: { b64: string } }[] } {
  return { instances: [{ image_bytes: { b64: Buffer.from(image).toString('base64') } }] };
}

/** Pixels in [0, 1] as a [28, 28] nested list. */
export function pixelRows(gray: Uint8Array): number[][] {
  return Array.from({ length: 28 }, (_, y) => Array.from(gray.subarray(y * 28, y * 28 + 28), (v) => v / 255));
}

/**
 * A PNG of one flat colour built by hand: the hostile input of issue 10. Flat scanlines deflate ~1000:1, so a
 * 4096x4096 grey PNG is ~16 KB on the wire and 16.7 M pixels once decoded.
 */
export function blankPng(width: number, height: number, colourType = 0, depth = 8): Buffer {
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colourType] ?? 1;
  const row = 1 + Math.ceil((width * channels * depth) / 8);
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(depth, 8);
  ihdr.writeUInt8(colourType, 9);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(row * height, 0), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
