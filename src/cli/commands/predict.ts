import { setTimeout as sleep } from 'node:timers/promises';
import jpeg from 'jpeg-js';
import { z } from 'zod';
import {
  CLASS_NAMES,
  IMAGE_HEIGHT,
  IMAGE_WIDTH,
  resolveFashionMnist,
  splitDataset,
} from '../../data/index.js';
import { CommandError, flag, flagSet, parseFlags, type Command } from '../command.js';
import { durationFlag, formatDuration } from '../duration-flag.js';
import { dataSourceFlags } from '../data-source-flags.js';
import { table, type Output } from '../output.js';

const predictFlags = flagSet({
  url: flag(
    z
      .string({ message: 'is required: the server, e.g. http://127.0.0.1:8080' })
      .url('must be an http(s) URL'),
    'the model server (or gateway) base URL',
    { valueName: 'URL' },
  ),
  model: flag(
    z.string({ message: 'is required: the served model name' }).min(1, 'must name a model'),
    'served model name',
    { valueName: 'NAME' },
  ),
  count: flag(
    z.coerce
      .number({ message: 'must be an integer in [1, 1000]' })
      .int('must be an integer in [1, 1000]')
      .min(1, 'must be an integer in [1, 1000]')
      .max(1000, 'must be an integer in [1, 1000]')
      .default(5),
    'how many test images',
    { valueName: 'N' },
  ),
  from: flag(
    z.coerce
      .number({ message: 'must be an integer' })
      .int('must be an integer')
      .min(0, 'must be 0 or more')
      .default(0),
    'first test image index',
    { valueName: 'I' },
  ),
  wait: flag(
    durationFlag(0, 86_400_000).optional(),
    'first wait up to DURATION (e.g. 10m) for the server to be ready (GET /v2/health/ready = 200: a version loaded), as kubectl wait does',
    { valueName: 'DURATION' },
  ),
  ...dataSourceFlags,
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
  options: predictFlags.options,
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
    const base = f.url.replace(/\/$/, '');
    if (f.wait !== undefined) await waitReady(base, f.wait, out);
    const url = `${base}/v1/models/${encodeURIComponent(f.model)}:predict`;
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
        'CLI_PREDICT_UNREACHABLE',
        `cannot reach ${url}: ${describeCause(err)}; is the server running?`,
      );
    }
    const reply = (await res.json()) as { predictions?: number[][]; error?: string };
    if (!res.ok || !reply.predictions)
      throw new CommandError(
        'CLI_PREDICT_FAILED',
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

/**
 * Polls the server's readiness until it answers 200 or `ms` pass. A refused connection counts as "not yet": in a
 * pipeline the client may start before the server listens, and a server is ready only once a version is loaded.
 */
async function waitReady(base: string, ms: number, out: Output): Promise<void> {
  const url = `${base}/v2/health/ready`;
  const t0 = Date.now();
  const progress = out.progress(`waiting for ${base}`);
  let last = 'no answer yet';
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      if (res.ok) break;
      last = `${res.status} (no model version loaded yet?)`;
    } catch (err) {
      last = describeCause(err);
    }
    const waited = Date.now() - t0;
    if (waited >= ms)
      throw new CommandError(
        'CLI_PREDICT_NOT_READY',
        `${url} not ready after ${formatDuration(ms)} (last: ${last}); check that the server has a model version to load, or wait longer with --wait`,
      );
    progress.update(Math.round(waited / 1000), undefined, `s, ${last}`);
    await sleep(Math.min(250, ms - waited));
  }
}

function describeCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
