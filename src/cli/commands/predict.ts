import jpeg from 'jpeg-js';
import { z } from 'zod';
import {
  CLASS_NAMES,
  IMAGE_HEIGHT,
  IMAGE_WIDTH,
  resolveFashionMnist,
  splitDataset,
} from '../../data/index.js';
import { CommandError, parseFlags, type Command } from '../command.js';
import { dataSourceFlags, dataSourceOptions } from '../data-source-flags.js';
import { table } from '../output.js';

const predictFlags = z.object({
  ...dataSourceFlags,
  url: z
    .string({ message: 'is required: the server, e.g. http://127.0.0.1:8080' })
    .url('must be an http(s) URL'),
  model: z.string({ message: 'is required: the served model name' }).min(1, 'must name a model'),
  count: z.coerce
    .number({ message: 'must be an integer in [1, 1000]' })
    .int('must be an integer in [1, 1000]')
    .min(1, 'must be an integer in [1, 1000]')
    .max(1000, 'must be an integer in [1, 1000]')
    .default(5),
  from: z.coerce
    .number({ message: 'must be an integer' })
    .int('must be an integer')
    .min(0, 'must be 0 or more')
    .default(0),
});

/** A grayscale image as a JPEG, the way the book's client sends it. */
function toJpeg(gray: Uint8Array): Buffer {
  const rgba = new Uint8Array(gray.length * 4);
  gray.forEach((v, i) => rgba.set([v, v, v, 255], i * 4));
  return jpeg.encode({ data: rgba, width: IMAGE_WIDTH, height: IMAGE_HEIGHT }, 95).data;
}

export const predict: Command = {
  path: ['predict'],
  summary:
    "send test images to a model server as the book's client does (JPEG in image_bytes.b64) and compare",
  usage: '--url URL --model NAME',
  details:
    'Posts {"instances":[{"image_bytes":{"b64":"<jpeg>"}}]} (Listing 9.25) for --count test images starting\n' +
    'at --from to URL/v1/models/NAME:predict, and prints each predicted class next to the true one.',
  options: {
    url: { type: 'string', valueName: 'URL', description: 'the model server (or gateway) base URL' },
    model: { type: 'string', valueName: 'NAME', description: 'served model name' },
    count: { type: 'string', valueName: 'N', defaultText: '5', description: 'how many test images' },
    from: { type: 'string', valueName: 'I', defaultText: '0', description: 'first test image index' },
    ...dataSourceOptions,
  },
  async run({ values, global, out }) {
    const f = parseFlags(predictFlags, values);
    const src = await resolveFashionMnist({
      source: f.source,
      urlBase: f['url-base'],
      workspace: global.workspace,
    });
    const picked: { index: number; label: number; image: Uint8Array }[] = [];
    for await (const chunk of splitDataset('test', src.test).skip(f.from).take(f.count).chunks()) {
      for (const e of chunk) picked.push({ index: e.index, label: e.label, image: new Uint8Array(e.image) });
    }
    const body = {
      instances: picked.map((p) => ({ image_bytes: { b64: toJpeg(p.image).toString('base64') } })),
    };
    const url = `${f.url.replace(/\/$/, '')}/v1/models/${encodeURIComponent(f.model)}:predict`;
    const t0 = performance.now();
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw new CommandError(
        'PREDICT_UNREACHABLE',
        `cannot reach ${url}: ${describeCause(err)}; is the server running?`,
      );
    }
    const reply = (await res.json()) as { predictions?: number[][]; error?: string };
    if (!res.ok || !reply.predictions)
      throw new CommandError(
        'PREDICT_FAILED',
        `${url} answered ${res.status}: ${reply.error ?? 'no predictions'}`,
      );
    const rows = picked.map((p, i) => {
      const probs = reply.predictions?.[i] ?? [];
      const best = probs.indexOf(Math.max(...probs));
      return {
        index: p.index,
        label: CLASS_NAMES[p.label],
        predicted: CLASS_NAMES[best],
        probability: probs[best] ?? 0,
        correct: best === p.label,
      };
    });
    const result = {
      url,
      seconds: (performance.now() - t0) / 1000,
      correct: rows.filter((r) => r.correct).length,
      rows,
    };
    out.result(result, () =>
      [
        table([
          ['image', 'true class', 'predicted', 'probability'],
          ...rows.map((r) => [
            r.index,
            r.label ?? '?',
            `${r.predicted ?? '?'}${r.correct ? '' : ' ✗'}`,
            r.probability.toFixed(3),
          ]),
        ]),
        `${result.correct}/${rows.length} correct`,
      ].join('\n'),
    );
  },
};

function describeCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
