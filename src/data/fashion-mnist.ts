import { Dataset } from './dataset.js';
import { DataError } from './errors.js';
import { openIdx, readIdx } from './idx.js';
import type { ElementCodec } from './cache.js';

/** Class names in label order (Fashion-MNIST's README). */
export const CLASS_NAMES = [
  't-shirt/top',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle boot',
] as const;

export const IMAGE_HEIGHT = 28;
export const IMAGE_WIDTH = 28;
export const IMAGE_SIZE = IMAGE_HEIGHT * IMAGE_WIDTH;

export type Split = 'train' | 'test';

/** Base names of the four IDX files; each may be present raw or as `.gz`. */
export const FILE_NAMES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

/** The canonical download location and the pinned SHA-256 of its four .gz files. */
export const CANONICAL = {
  urlBase: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
  sha256: {
    'train-images-idx3-ubyte.gz': '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84',
    'train-labels-idx1-ubyte.gz': 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845',
    't10k-images-idx3-ubyte.gz': '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073',
    't10k-labels-idx1-ubyte.gz': '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5',
  } as Record<string, string>,
};

/** The two files of one split. */
export interface SplitFiles {
  images: string;
  labels: string;
  /** SHA-256 of images and labels, combined; identifies the split's content. */
  sha256: string;
}

/** One record as stored: raw pixels (0–255, row-major 28×28) and its class. */
export interface Example {
  /** Position in the split's files. */
  index: number;
  image: Uint8Array;
  label: number;
}

/** A record after the book's `scale`: float32 pixels in [0, 1]. */
export interface ScaledExample {
  index: number;
  image: Float32Array;
  label: number;
}

export type CorruptPolicy = 'skip' | 'fail';

export interface CorruptRecord {
  split: Split;
  index: number;
  reason: string;
}

export interface SplitOptions {
  /** What to do with a record that cannot be decoded (book 3.4). Default: skip. */
  onCorrupt?: CorruptPolicy;
  /** Called for every skipped record. */
  onCorruptRecord?: (r: CorruptRecord) => void;
}

/**
 * A lazy dataset over one split. Labels (60 KB) are read whole; images stream record by record, so memory stays
 * bounded. Counts are cross-checked before the first record is produced.
 */
export function splitDataset(split: Split, files: SplitFiles, opts: SplitOptions = {}): Dataset<Example> {
  const policy = opts.onCorrupt ?? 'skip';
  return Dataset.fromSource<Example>({
    fingerprint: `fashion-mnist:${split}:${files.sha256}:onCorrupt=${policy}`,
    open: () => readSplit(split, files, policy, opts.onCorruptRecord),
  });
}

async function* readSplit(
  split: Split,
  files: SplitFiles,
  policy: CorruptPolicy,
  onCorruptRecord: ((r: CorruptRecord) => void) | undefined,
): AsyncGenerator<Example[]> {
  const labels = await readIdx(files.labels, { dtype: 'ubyte', recordDims: [] });
  const images = await openIdx(files.images, { dtype: 'ubyte', recordDims: [IMAGE_HEIGHT, IMAGE_WIDTH] });
  const nLabels = labels.header.dims[0];
  const nImages = images.header.dims[0];
  if (nLabels !== nImages) {
    await images.records.return(undefined);
    throw new DataError(
      'DATA_COUNT_MISMATCH',
      `${split} split: ${files.images} holds ${nImages} images but ${files.labels} holds ${nLabels} labels; the files do not belong together`,
    );
  }
  let index = 0;
  for await (const chunk of images.records) {
    const out: Example[] = [];
    for (const image of chunk) {
      const label = labels.data[index] as number;
      if (label >= CLASS_NAMES.length) {
        const reason = `label ${label} is not a class (0-${CLASS_NAMES.length - 1})`;
        if (policy === 'fail') {
          throw new DataError(
            'DATA_CORRUPT_RECORD',
            `${files.labels}: record ${index}: ${reason}; use onCorrupt "skip" to drop such records`,
          );
        }
        onCorruptRecord?.({ split, index, reason });
      } else {
        out.push({ index, image, label });
      }
      index++;
    }
    yield out;
  }
}

/** The book's `scale`: cast to float32 and divide by 255. */
export function scale(e: Example): ScaledExample {
  const out = new Float32Array(e.image.length);
  for (let i = 0; i < out.length; i++) out[i] = (e.image[i] as number) / 255;
  return { index: e.index, image: out, label: e.label };
}

/** Disk-cache encoding of a scaled example: index u32, label u32, 784 float32 (4-byte aligned). */
export const scaledExampleCodec: ElementCodec<ScaledExample> = {
  id: `scaled-example-v1-${IMAGE_SIZE}`,
  recordBytes: 8 + IMAGE_SIZE * 4,
  encode(x, out, off) {
    out.writeUInt32LE(x.index, off);
    out.writeUInt32LE(x.label, off + 4);
    Buffer.from(x.image.buffer, x.image.byteOffset, x.image.byteLength).copy(out, off + 8);
  },
  decode(buf, off) {
    return {
      index: buf.readUInt32LE(off),
      label: buf.readUInt32LE(off + 4),
      image: new Float32Array(buf.buffer, buf.byteOffset + off + 8, IMAGE_SIZE),
    };
  },
};

/** A batch laid out for the engine: images NHWC [n, 28, 28, 1] float32, labels int32. */
export interface ExampleBatch {
  size: number;
  images: Float32Array;
  labels: Int32Array;
  indices: Int32Array;
}

/** Packs scaled examples into one contiguous batch. */
export function collate(examples: readonly ScaledExample[]): ExampleBatch {
  const n = examples.length;
  const images = new Float32Array(n * IMAGE_SIZE);
  const labels = new Int32Array(n);
  const indices = new Int32Array(n);
  examples.forEach((e, i) => {
    images.set(e.image, i * IMAGE_SIZE);
    labels[i] = e.label;
    indices[i] = e.index;
  });
  return { size: n, images, labels, indices };
}
