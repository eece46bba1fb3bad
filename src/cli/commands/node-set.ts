import { z } from 'zod';
import { MetadataStore } from '../../metadata/index.js';
import { checkRunName, setSuppliedOutputs } from '../../workflow/index.js';
import { flag, flagSet, parseFlags, UsageError, type Command } from '../command.js';

const flags = flagSet({
  node: flag(
    z.string({ message: 'is required: the suspended step (its name in `distml get RUN`)' }).min(1),
    'the suspended step, by name (or node id)',
    { valueName: 'STEP' },
  ),
  'output-parameter': flag(
    z
      .array(z.string().regex(/^[A-Za-z0-9_-]+=/, 'must be NAME=VALUE'))
      .min(1, 'is required: at least one NAME=VALUE'),
    'an output parameter of the step (repeatable)',
    { valueName: 'NAME=VALUE' },
  ),
});

export const nodeSetCommand: Command = {
  path: ['node', 'set'],
  summary: 'give a suspended step its output parameters (valueFrom.supplied), like `argo node set`',
  usage: 'RUN --node STEP --output-parameter NAME=VALUE...',
  details: [
    'A suspend template waits until `distml resume RUN`; its outputs declared `valueFrom: {supplied: {}}` take',
    'the values set here (else their default; without one the step errors when resumed). Set them, then resume.',
  ].join('\n'),
  options: flags.options,
  run: async (ctx) => {
    const name = ctx.positionals[0];
    if (!name) throw new UsageError('expected RUN; `distml list` shows the runs');
    const f = parseFlags(flags, ctx.values);
    const values = Object.fromEntries(
      f['output-parameter'].map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
    );
    const store = MetadataStore.open(ctx.global.workspace);
    try {
      setSuppliedOutputs(store, checkRunName(name), f.node, values);
    } finally {
      store.close();
    }
    ctx.out.result(
      { run: name, node: f.node, parameters: values },
      () =>
        `${name} ${f.node}: ${Object.entries(values)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
    );
  },
};
