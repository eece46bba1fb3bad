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

/** Stable codes for a command's own runtime failures. */
export type CommandErrorCode =
  /** `distml serve`: the repository does not exist (and --wait-for-model was not given). */
  | 'CLI_SERVE_REPO_NOT_FOUND'
  /** `distml serve --wait-for-model`: no version loaded in time. */
  | 'CLI_SERVE_NO_MODEL'
  /** `distml predict`: the server cannot be reached. */
  | 'CLI_PREDICT_UNREACHABLE'
  /** `distml predict`: the server answered with an error or without predictions. */
  | 'CLI_PREDICT_FAILED'
  /** `distml predict --wait`: the server was not ready in time. */
  | 'CLI_PREDICT_NOT_READY'
  /** `distml lint`: a workflow file has problems. */
  | 'CLI_LINT_FAILED'
  /** `distml queue apply`: the queue file was not given or cannot be read. */
  | 'CLI_QUEUE_FILE_MISSING';

/** A command's own runtime failure (e.g. a server it talks to is down): exit code 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  constructor(
    readonly code: CommandErrorCode,
    message: string,
  ) {
    super(message);
  }
}
