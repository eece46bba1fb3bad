import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { trainFlags } from '../../src/cli/commands/train/flags.js';
import { serveFlags } from '../../src/cli/commands/serve/flags.js';
import { flag, flagSet, parseFlags, UsageError } from '../../src/cli/flags.js';
import { commandHelp } from '../../src/cli/help.js';
import { COMMANDS } from '../../src/cli/registry.js';

describe('flags declared once', () => {
  it('derives the parseArgs type, placeholder, alias and printed default from one declaration', () => {
    const set = flagSet({
      mode: flag(z.enum(['fast', 'slow']).default('slow'), 'how'),
      n: flag(z.coerce.number().int().default(3), 'how many', { valueName: 'N', short: 'n' }),
      dry: flag(z.boolean().default(false), 'do nothing'),
      tag: flag(z.array(z.string()).default([]), 'a tag (repeatable)', { valueName: 'T' }),
      home: flag(z.string().optional(), 'where', { valueName: 'DIR', defaultText: '$HOME' }),
    });
    assert.deepEqual(set.options, {
      mode: { type: 'string', valueName: 'fast|slow', defaultText: 'slow', description: 'how' },
      n: { type: 'string', short: 'n', valueName: 'N', defaultText: '3', description: 'how many' },
      dry: { type: 'boolean', description: 'do nothing' },
      tag: { type: 'string', valueName: 'T', multiple: true, description: 'a tag (repeatable)' },
      home: { type: 'string', valueName: 'DIR', defaultText: '$HOME', description: 'where' },
    });
    assert.deepEqual(parseFlags(set, { n: '7' }), { mode: 'slow', n: 7, dry: false, tag: [] });
  });

  it('names the flag and the value in a usage error, and applies the rules between flags', () => {
    const set = flagSet(
      {
        lo: flag(z.coerce.number().default(0), 'low'),
        hi: flag(z.coerce.number({ message: 'must be a number' }).default(10), 'high'),
      },
      [(f) => (f.lo > f.hi ? `--lo: must be at most --hi (${f.hi})` : undefined)],
    );
    assert.throws(() => parseFlags(set, { hi: 'x' }), {
      name: 'UsageError',
      message: '--hi: must be a number (got "x")',
    });
    assert.throws(() => parseFlags(set, { lo: '11' }), new UsageError('--lo: must be at most --hi (10)'));
    assert.deepEqual(parseFlags(set, { lo: '5' }), { lo: 5, hi: 10 });
  });

  it('train: --ps defaults to 1 in the schema and in help; setting it without the strategy is refused', () => {
    const base = { model: 'cnn', epochs: '1', out: 'o' };
    assert.equal(parseFlags(trainFlags, base).ps, 1);
    assert.equal(trainFlags.options['ps']?.defaultText, '1');
    const help = commandHelp(COMMANDS.find((c) => c.path[0] === 'train')!);
    assert.match(help, /--ps P +.*\(default: 1\)/);
    assert.throws(() => parseFlags(trainFlags, { ...base, ps: '2' }), /--ps and --staleness configure/);
    assert.equal(parseFlags(trainFlags, { ...base, ps: '2', strategy: 'parameter-server' }).ps, 2);
  });

  it('serve: duration defaults are printed as declared and parsed to milliseconds; gateway rules sit on the set', () => {
    assert.equal(serveFlags.options['stable-window']?.defaultText, '60s');
    const f = parseFlags(serveFlags, { repo: 'r', model: 'm' });
    assert.equal(f['stable-window'], 60_000);
    assert.equal(f['queue-deadline'], 30_000);
    assert.throws(
      () => parseFlags(serveFlags, { repo: 'r', model: 'm', min: '1' }),
      /--min: is a gateway flag/,
    );
    assert.throws(
      () => parseFlags(serveFlags, { repo: 'r', replicas: '2', autoscale: true }),
      /--replicas: fixes the replica count/,
    );
    // --hash-key prints a hash and exits: serving rules do not apply.
    assert.equal(parseFlags(serveFlags, { 'hash-key': 'k', min: '1' })['hash-key'], 'k');
  });

  it('every command prints every fixed default of its declarations in help', () => {
    for (const c of COMMANDS) {
      const help = commandHelp(c);
      for (const [name, o] of Object.entries(c.options)) {
        if (o.defaultText)
          assert.ok(help.includes(`(default: ${o.defaultText})`), `${c.path.join(' ')} --${name}`);
      }
    }
  });
});
