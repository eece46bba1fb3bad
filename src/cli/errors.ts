import { DataError } from '../data/index.js';
import { DurableError } from '../durable/index.js';
import { EngineError } from '../engine/index.js';
import { ModelError } from '../models/index.js';
import { TrainError } from '../train/index.js';
import { RegistryError } from '../registry/index.js';
import { ServeError } from '../serve/index.js';
import { MetadataError } from '../metadata/index.js';
import { SchedulerError } from '../scheduler/index.js';
import { WorkflowError } from '../workflow/index.js';
import { ServerError } from '../server/index.js';
import { CommandError, UsageError } from './command.js';

/** Error classes whose messages are written for users (what, why, how to fix). */
const USER_FACING: (abstract new (...args: never[]) => Error & { code: string })[] = [
  DataError,
  DurableError,
  EngineError,
  ModelError,
  RegistryError,
  ServeError,
  TrainError,
  UsageError,
  MetadataError,
  SchedulerError,
  WorkflowError,
  ServerError,
  CommandError,
];

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The one place error codes become exit codes: usage problems are 2, every other failure 1. */
export function exitCodeFor(err: unknown): number {
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}

/** The error as a user sees it: its own message for known errors, a pointer to --debug for surprises. */
export function describeError(err: unknown): { code: string; message: string } {
  if (USER_FACING.some((cls) => err instanceof cls)) {
    const e = err as Error & { code: string };
    return { code: e.code, message: e.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message: `${message} (internal error; rerun with --debug for the stack trace)` };
}
