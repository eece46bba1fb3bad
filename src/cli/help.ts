import type { Command, OptionSpec } from './command.js';
import { GLOBAL_OPTIONS } from './global-options.js';
import { COMMANDS, GROUPS } from './registry.js';

export { GLOBAL_OPTIONS };

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
