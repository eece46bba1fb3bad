import { z } from 'zod';
import { inspectModelSpec } from '../../engine/index.js';
import { bookModelSpec, formatSummary, MODEL_NAMES } from '../../models/index.js';
import { UsageError, type Command } from '../command.js';
import { table } from '../output.js';

export const modelsList: Command = {
  path: ['models', 'list'],
  summary: "list the book's models with their parameter counts",
  options: {},
  async run({ out }) {
    const models = MODEL_NAMES.map((name) => ({
      name,
      params: inspectModelSpec(bookModelSpec(name)).paramCount,
    }));
    out.result({ models }, () =>
      table([['model', 'params'], ...models.map((m) => [m.name, m.params.toLocaleString('en-US')])]),
    );
  },
};

export const modelsSummary: Command = {
  path: ['models', 'summary'],
  summary: 'print the Keras-style layer table of a model (output shapes, parameter counts)',
  usage: 'NAME',
  options: {},
  async run({ positionals, out }) {
    const name = z.string().safeParse(positionals[0]);
    if (!name.success || positionals.length !== 1) {
      throw new UsageError(`models summary needs one model name (${MODEL_NAMES.join(', ')})`);
    }
    const spec = bookModelSpec(name.data);
    const info = inspectModelSpec(spec);
    out.result({ model: name.data, ...info, spec }, () => formatSummary(spec));
  },
};
