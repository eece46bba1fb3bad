import type { Command } from './command.js';
import { dataPrepare, dataShow } from './commands/data.js';

/** Every subcommand of `distml`, in help order. */
export const COMMANDS: Command[] = [dataPrepare, dataShow];

/** Short descriptions of command groups (the first word of a path). */
export const GROUPS: Record<string, string> = {
  data: 'ingest Fashion-MNIST: find or download it, decode, cache, inspect',
};
