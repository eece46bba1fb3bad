import type { OptionSpec } from './command.js';

/** Options every command accepts (parsed in main, listed by help and shell completion). */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: {
    type: 'boolean',
    description: 'print machine-readable JSON (results on stdout, progress as JSON lines on stderr)',
  },
  workspace: {
    type: 'string',
    valueName: 'DIR',
    defaultText: '$DISTML_HOME or .distml',
    description: 'folder holding datasets, caches, checkpoints, models and the run database',
  },
  debug: { type: 'boolean', description: 'print stack traces for errors' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
  version: { type: 'boolean', description: 'print the version' },
};
