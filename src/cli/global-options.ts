import { z } from 'zod';
import { flag, flagSet } from './flags.js';

/** Options every command accepts (parsed in main, listed by help and shell completion). */
export const GLOBAL_FLAGS = flagSet({
  json: flag(
    z.boolean().default(false),
    'print machine-readable JSON (results on stdout, progress as JSON lines on stderr)',
  ),
  workspace: flag(
    z.string().min(1, 'must name a directory').optional(),
    'folder holding datasets, caches, checkpoints, models and the run database',
    { valueName: 'DIR', defaultText: '$DISTML_HOME or .distml' },
  ),
  debug: flag(z.boolean().default(false), 'print stack traces for errors'),
  help: flag(z.boolean().default(false), 'show help', { short: 'h' }),
  version: flag(z.boolean().default(false), 'print the version'),
});

export const GLOBAL_OPTIONS = GLOBAL_FLAGS.options;
