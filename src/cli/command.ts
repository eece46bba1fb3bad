import type { z } from 'zod';
import type { Output } from './output.js';

/** One flag of a command, as `node:util` parseArgs understands it, plus help text. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  /** Placeholder shown in help, e.g. DIR. */
  valueName?: string;
  /** Default shown in help (the zod schema applies it). */
  defaultText?: string;
  multiple?: boolean;
}

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

/** Bad command-line input: exit code 2, with a message that says what to change. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}

/**
 * Parses raw flag values with a zod schema, turning the first problem into a UsageError that names the flag,
 * e.g. `--index: must be an integer in [0, 59999] (got "x")`.
 */
export function parseFlags<S extends z.ZodTypeAny>(schema: S, values: Record<string, unknown>): z.infer<S> {
  const r = schema.safeParse(values);
  if (r.success) return r.data as z.infer<S>;
  const issue = r.error.issues[0];
  const flag = issue?.path[0];
  const got = flag !== undefined ? values[String(flag)] : undefined;
  const shown = got === undefined ? 'nothing' : JSON.stringify(got);
  throw new UsageError(
    `${flag !== undefined ? `--${String(flag)}: ` : ''}${issue?.message ?? 'invalid'} (got ${shown})`,
  );
}
