import { inspectModelSpec, type ModelSpec } from '../engine/index.js';

/** The Keras-style summary the book prints (layer, output shape, parameter count, totals). */
export function formatSummary(spec: ModelSpec, title = 'sequential'): string {
  const info = inspectModelSpec(spec);
  const rows = info.rows.map((r) => [
    `${r.name} (${r.type})`,
    `(${r.outputShape.map((d) => d ?? 'None').join(', ')})`,
    r.params.toLocaleString('en-US'),
  ]);
  const head = ['Layer (type)', 'Output Shape', 'Param #'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)) + 2);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(w[i] ?? 0))
      .join('')
      .trimEnd();
  const rule = (ch: string) => ch.repeat(w.reduce((a, b) => a + b, 0));
  const nonTrainable = info.paramCount - info.trainableParamCount;
  return [
    `Model: "${title}"`,
    rule('_'),
    line(head),
    rule('='),
    ...rows.flatMap((r, i) => [line(r), i === rows.length - 1 ? rule('=') : rule('_')]),
    `Total params: ${info.paramCount.toLocaleString('en-US')}`,
    `Trainable params: ${info.trainableParamCount.toLocaleString('en-US')}`,
    `Non-trainable params: ${nonTrainable.toLocaleString('en-US')}`,
    rule('_'),
  ].join('\n');
}
