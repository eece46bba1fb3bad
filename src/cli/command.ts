import type { OptionSpec } from './flags.js';
import type { Output } from './output.js';

export {
  flag,
  flagSet,
  parseFlags,
  UsageError,
  type FlagSet,
  type FlagValues,
  type OptionSpec,
} from './flags.js';

/** Options every command accepts. */
export interface GlobalOptions {
  json: boolean;
  debug: boolean;
  /** Absolute path of the workspace folder. */
  workspace: string;
}

export interface CommandContext {
  /** The raw arguments (without node and the script), for commands that re-launch themselves. */
  argv: string[];
  values: Record<string, unknown>;
  positionals: string[];
  global: GlobalOptions;
  out: Output;
}

/** A `distml` subcommand: its words, help, flags and handler. */
export interface Command {
  path: string[];
  summary: string;
  usage?: string;
  details?: string;
  /** What parseArgs, help and completion read: `flags.options`, derived from the flag declarations. */
  options: Record<string, OptionSpec>;
  /** Resolves with the exit code when the command reports its own failure (e.g. doctor), else 0. */
  run(ctx: CommandContext): Promise<void | number>;
}

/** A command's own runtime failure (e.g. a server it talks to is down): exit code 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
