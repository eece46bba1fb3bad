// Flags declared once (CONVENTIONS 14; Ray Serve's `Field(default, description)` with a model validator):
// one `flag(schema, description)` holds a flag's type, bound and default (the zod schema) and its doc; a
// command's `flagSet` derives both what `parseArgs` and help need (`options`) and the validation (`schema`),
// and carries the rules that relate several flags. Help prints a default read from the schema, so the two
// cannot drift.
import { z } from 'zod';

/** One flag of a command, as `node:util` parseArgs understands it, plus help text (derived by `flagSet`). */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  /** Placeholder shown in help, e.g. DIR. */
  valueName?: string;
  /** Default shown in help. */
  defaultText?: string;
  multiple?: boolean;
}

/** Bad command-line input: exit code 2, with a message that says what to change. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'CLI_USAGE';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  /** Bad input is exit code 2 (every other failure is 1). */
  readonly exitCode = 2;
}

/** One flag's declaration: the schema is its type, bound and default; the rest is its help. */
export interface Flag<S extends z.ZodTypeAny = z.ZodTypeAny> {
  schema: S;
  description: string;
  /** Placeholder in help (DIR, N); an enum's choices (`a|b`) when left out. */
  valueName?: string;
  /** One-letter alias, e.g. `-p`. */
  short?: string;
  /**
   * The default in words, for a default that is not one value (`$DISTML_THREADS, else all cores`, `--workers`);
   * a fixed default is read from the schema's `.default()`.
   */
  defaultText?: string;
}

/** Declares one flag. */
export function flag<S extends z.ZodTypeAny>(
  schema: S,
  description: string,
  more: Omit<Flag<S>, 'schema' | 'description'> = {},
): Flag<S> {
  return { schema, description, ...more };
}

type Flags = Record<string, Flag>;
/** The parsed values of a set of flag declarations. */
export type FlagValues<D extends Flags> = z.infer<z.ZodObject<{ [K in keyof D]: D[K]['schema'] }>>;

/**
 * A rule relating several flags (Ray's model validator): returns the message of a usage error, or nothing.
 * `given` holds the raw values, to tell a flag that was set from one left at its default.
 */
export type FlagRule<V> = (f: V, given: Record<string, unknown>) => string | undefined;

/** A command's flags: the declarations, what parseArgs and help read, the schema, and cross-flag rules. */
export interface FlagSet<D extends Flags = Flags> {
  flags: D;
  options: Record<string, OptionSpec>;
  schema: z.ZodObject<{ [K in keyof D]: D[K]['schema'] }>;
  rules: FlagRule<FlagValues<D>>[];
}

/** Builds a command's flag set from its declarations and the rules that relate them. */
export function flagSet<D extends Flags>(flags: D, rules: FlagRule<FlagValues<D>>[] = []): FlagSet<D> {
  const shape = Object.fromEntries(Object.entries(flags).map(([k, f]) => [k, f.schema]));
  const options = Object.fromEntries(Object.entries(flags).map(([k, f]) => [k, optionOf(f)]));
  return {
    flags,
    options,
    schema: z.object(shape) as FlagSet<D>['schema'],
    rules,
  };
}

/** The innermost schema under defaults, optionals, refinements and pipes, and the default if any. */
function inspect(schema: z.ZodTypeAny): { base: z.ZodTypeAny; fallback?: unknown } {
  let s = schema;
  let fallback: unknown;
  for (;;) {
    if (s instanceof z.ZodDefault) {
      if (fallback === undefined) fallback = (s._def as { defaultValue: () => unknown }).defaultValue();
      s = s._def.innerType as z.ZodTypeAny;
    } else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodTypeAny;
    else if (s instanceof z.ZodEffects) s = s.innerType() as z.ZodTypeAny;
    else if (s instanceof z.ZodPipeline) s = s._def.in as z.ZodTypeAny;
    else return { base: s, fallback };
  }
}

/** What parseArgs and help need, derived from a declaration. */
function optionOf(f: Flag): OptionSpec {
  const { base, fallback } = inspect(f.schema);
  const boolean = base instanceof z.ZodBoolean;
  const multiple = base instanceof z.ZodArray;
  const choices = base instanceof z.ZodEnum ? (base.options as string[]).join('|') : undefined;
  // false and [] are what an unset boolean or repeatable flag means: no default worth printing.
  const shown =
    fallback === undefined || fallback === false || (Array.isArray(fallback) && fallback.length === 0)
      ? undefined
      : String(fallback);
  const spec: OptionSpec = { type: boolean ? 'boolean' : 'string', description: f.description };
  if (f.short) spec.short = f.short;
  if (!boolean) spec.valueName = f.valueName ?? choices ?? 'VALUE';
  const defaultText = f.defaultText ?? shown;
  if (defaultText !== undefined) spec.defaultText = defaultText;
  if (multiple) spec.multiple = true;
  return spec;
}

/**
 * Parses raw flag values, turning the first problem into a UsageError that names the flag, e.g.
 * `--index: must be an integer in [0, 59999] (got "x")`; then applies the set's rules.
 */
export function parseFlags<D extends Flags>(set: FlagSet<D>, values: Record<string, unknown>): FlagValues<D> {
  const r = set.schema.safeParse(values);
  if (!r.success) {
    const issue = r.error.issues[0];
    const name = issue?.path[0];
    const got = name !== undefined ? values[String(name)] : undefined;
    const shown = got === undefined ? 'nothing' : JSON.stringify(got);
    throw new UsageError(
      `${name !== undefined ? `--${String(name)}: ` : ''}${issue?.message ?? 'invalid'} (got ${shown})`,
    );
  }
  const parsed = r.data as FlagValues<D>;
  for (const rule of set.rules) {
    const problem = rule(parsed, values);
    if (problem !== undefined) throw new UsageError(problem);
  }
  return parsed;
}
