#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ownerGone, OWNER_ENV } from '../process/index.js';
import { parseFlags, UsageError, type Command, type GlobalOptions } from './command.js';
import { describeError, exitCodeFor, EXIT_OK, EXIT_USAGE } from './errors.js';
import { GLOBAL_FLAGS } from './global-options.js';
import { commandHelp, GLOBAL_OPTIONS, overviewHelp } from './help.js';
import { Output } from './output.js';
import { COMMANDS, GROUPS } from './registry.js';
import { envValue } from './env.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Finds the command named by the leading words of `words`. */
function findCommand(words: string[]): { command?: Command; prefix: string[] } {
  let best: Command | undefined;
  for (const c of COMMANDS) {
    if (c.path.every((w, i) => words[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  const prefix = best ? best.path : words.slice(0, 1).filter((w) => w in GROUPS);
  return { command: best, prefix };
}

/** Words that are not flags or flag values, in order (to find the command before full parsing). */
function leadingWords(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') break;
    if (a.startsWith('-')) {
      const name = a.replace(/^-+/, '').split('=')[0] ?? '';
      const known = COMMANDS.flatMap((c) => Object.entries(c.options)).concat(Object.entries(GLOBAL_OPTIONS));
      const spec = known.find(([n, o]) => n === name || o.short === name)?.[1];
      if (spec?.type === 'string' && !a.includes('=')) i++;
      continue;
    }
    words.push(a);
  }
  return words;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { command, prefix } = findCommand(leadingWords(argv));
  const json = argv.includes('--json');
  const debug = argv.includes('--debug');
  const out = new Output(json);
  try {
    const options = { ...GLOBAL_OPTIONS, ...(command?.options ?? {}) };
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    } catch (err) {
      const ambiguous = /Option '(--?[\w-]+)' argument is ambiguous/.exec((err as Error).message);
      if (ambiguous) {
        const flag = ambiguous[1] ?? '';
        throw new UsageError(
          `${flag}: missing value, or a value starting with "-": write it as ${flag}=-VALUE`,
        );
      }
      const msg = (err as Error).message
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .join(' ');
      throw new UsageError(
        `${msg.replace(/\. (To specify|Did you forget).*$/, '').replace(/\.$/, '')}; see \`distml ${[...prefix, ''].join(' ')}--help\``,
      );
    }
    const { values, positionals } = parsed;
    if (values['version']) {
      process.stdout.write(`${version()}\n`);
      return EXIT_OK;
    }
    if (!command) {
      if (positionals.length > prefix.length) {
        throw new UsageError(
          `unknown command "${positionals.join(' ')}"; run \`distml --help\` for the list`,
        );
      }
      // Asked-for help is a success; a missing command is a usage error that still shows the choices.
      (values['help'] ? process.stdout : process.stderr).write(`${overviewHelp(prefix)}\n`);
      return values['help'] ? EXIT_OK : EXIT_USAGE;
    }
    if (values['help']) {
      process.stdout.write(`${commandHelp(command)}\n`);
      return EXIT_OK;
    }
    const workspaceFlag = parseFlags(GLOBAL_FLAGS, values).workspace;
    const global: GlobalOptions = {
      json,
      debug,
      workspace: resolve(
        typeof workspaceFlag === 'string' ? workspaceFlag : envValue('DISTML_HOME', env) || '.distml',
      ),
    };
    const code = await command.run({
      argv,
      values,
      positionals: positionals.slice(command.path.length),
      global,
      out,
    });
    return code ?? EXIT_OK;
  } catch (err) {
    const { code, message } = describeError(err);
    if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
    else process.stderr.write(`distml: ${message}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitCodeFor(err);
  }
}

/**
 * A process started by an owner (spawnOwned) whose owner died before the parent-death signal was armed
 * would run on alone: it stops at once instead. The marker is not passed on to what this process starts.
 */
function startedByGoneOwner(): boolean {
  const owner = envValue('DISTML_OWNER');
  delete process.env[OWNER_ENV];
  if (owner === undefined || !ownerGone(owner, process.ppid)) return false;
  process.stderr.write(
    `distml: the process that started this one (${owner.split(':')[0]}) has exited; stopping\n`,
  );
  process.exitCode = 1;
  return true;
}

// Run when started as a program (also through npm's bin symlink), not when imported by tests.
const invokedDirectly =
  process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly && !startedByGoneOwner()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`distml: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
