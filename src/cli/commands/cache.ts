import { z } from 'zod';
import { MetadataStore } from '../../metadata/index.js';
import { durationFlag } from '../duration-flag.js';
import { flag, flagSet, parseFlags, type Command } from '../command.js';
import { table } from '../output.js';

const iso = (ms: number | null) => (ms ? new Date(ms).toISOString() : '');

export const cacheList: Command = {
  path: ['cache', 'ls'],
  summary: 'list memoization cache entries (cache name, key, created, last hit, outputs)',
  usage: '[CACHE]',
  options: {},
  async run({ positionals, global, out }) {
    const store = MetadataStore.open(global.workspace);
    try {
      const entries = store.listMemo(positionals[0]);
      out.result(
        entries.map((e) => ({
          ...e,
          createdAt: iso(e.createdAt),
          lastHitAt: iso(e.lastHitAt) || null,
          expiresAt: iso(e.expiresAt) || null,
        })),
        () =>
          entries.length === 0
            ? 'the memoization cache is empty'
            : table([
                ['CACHE', 'KEY', 'CREATED', 'LAST HIT', 'NODE'],
                ...entries.map((e) => [e.cacheName, e.key, iso(e.createdAt), iso(e.lastHitAt), e.node ?? '']),
              ]),
      );
    } finally {
      store.close();
    }
  },
};

const gcFlags = flagSet({
  'unused-for': flag(
    z.string({ message: 'is required: a duration such as 7d or 12h' }).pipe(durationFlag(0)),
    'e.g. 7d: delete entries neither created nor hit within it',
    { valueName: 'DURATION' },
  ),
});

export const cacheGc: Command = {
  path: ['cache', 'gc'],
  summary: 'delete memoization cache entries not created or hit for a while',
  usage: '--unused-for DURATION [CACHE]',
  options: gcFlags.options,
  async run({ values, positionals, global, out }) {
    const f = parseFlags(gcFlags, values);
    const store = MetadataStore.open(global.workspace);
    try {
      const removed = store.gcMemo(Date.now() - f['unused-for'], positionals[0]);
      out.result(
        { removed: removed.map((e) => ({ cacheName: e.cacheName, key: e.key })) },
        () => `removed ${removed.length} entr${removed.length === 1 ? 'y' : 'ies'}`,
      );
    } finally {
      store.close();
    }
  },
};
