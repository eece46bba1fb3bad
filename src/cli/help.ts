import type { Command, OptionSpec } from './command.js';
import { COMMANDS, GROUPS } from './registry.js';

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

function optionLines(options: Record<string, OptionSpec>): string[] {
  return Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    const def = o.defaultText ? ` (default: ${o.defaultText})` : '';
    return `  ${flag.padEnd(34)} ${o.description}${def}`;
  });
}

/** Help for the whole program, or for the commands under a group prefix. */
export function overviewHelp(prefix: string[] = []): string {
  const cmds = COMMANDS.filter((c) => prefix.every((w, i) => c.path[i] === w));
  const lines = [
    `Usage: distml ${prefix.length ? `${prefix.join(' ')} ` : ''}<command> [options]`,
    '',
    prefix.length
      ? (GROUPS[prefix[0] ?? ''] ?? '')
      : "distml: the book's distributed ML system — ingest, train, select, serve, workflow.",
    '',
    'Commands:',
    ...cmds.map((c) => `  ${c.path.join(' ').padEnd(22)} ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    "Run `distml <command> --help` for a command's options. Exit codes: 0 ok, 1 failure, 2 usage error.",
  ];
  return lines.join('\n');
}

/** Help for one command. */
export function commandHelp(c: Command): string {
  return [
    `Usage: distml ${c.path.join(' ')}${c.usage ? ` ${c.usage}` : ''} [options]`,
    '',
    c.summary,
    ...(c.details ? ['', c.details] : []),
    '',
    'Options:',
    ...optionLines(c.options),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
  ].join('\n');
}
