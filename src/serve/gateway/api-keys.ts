// Client tiers and API keys (book 4.4.2: a small limit for anonymous clients, a larger one once they
// authenticate). The keys file lists SHA-256 hashes only, never keys, so it can be read by anyone who
// operates the gateway without leaking credentials; requests are matched by hashing the key they present.
//
//   anonymous: { concurrency: 2, rps: 5, burst: 10, queue: 4 }      # optional, these are the defaults
//   tiers:
//     standard: { concurrency: 16, rps: 100, burst: 200, queue: 64 }
//   keys:
//     - { name: alice, tier: standard, sha256: "<64 hex digits>" }   # `distml serve --hash-key -` < key
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { ServeError } from '../errors.js';

/** Limits for one client (every anonymous address, or every key, gets its own set). */
export interface TierLimits {
  /** Requests in progress at once. */
  concurrency: number;
  /** Token refill per second (sustained request rate). */
  rps: number;
  /** Bucket size (requests allowed in a burst). */
  burst: number;
  /** Requests that may wait for a slot; beyond, 429 at once. */
  queue: number;
  /** Longest a request waits in that queue before a 429. */
  queueTimeoutMs: number;
}

export const DEFAULT_ANONYMOUS: TierLimits = {
  concurrency: 2,
  rps: 5,
  burst: 10,
  queue: 4,
  queueTimeoutMs: 2000,
};
export const DEFAULT_TIER: TierLimits = {
  concurrency: 16,
  rps: 100,
  burst: 200,
  queue: 64,
  queueTimeoutMs: 5000,
};

export interface KeyEntry {
  name: string;
  tier: string;
}

export interface AccessConfig {
  anonymous: TierLimits;
  tiers: Record<string, TierLimits>;
  /** By SHA-256 hex digest of the key. */
  keys: Map<string, KeyEntry>;
}

/** The SHA-256 hex digest under which a key is stored and compared. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

const limits = (base: TierLimits) =>
  z
    .object({
      concurrency: z.number().int().min(1).max(100_000).default(base.concurrency),
      rps: z.number().positive().max(1e6).default(base.rps),
      burst: z.number().int().min(1).max(1e6).optional(),
      queue: z.number().int().min(0).max(100_000).default(base.queue),
      queueTimeoutMs: z.number().int().min(0).max(600_000).default(base.queueTimeoutMs),
    })
    .strict()
    .transform((l): TierLimits => ({ ...l, burst: l.burst ?? Math.max(1, Math.ceil(l.rps * 2)) }));

const fileSchema = z
  .object({
    anonymous: limits(DEFAULT_ANONYMOUS).default({}),
    tiers: z.record(z.string().min(1), limits(DEFAULT_TIER)).default({}),
    keys: z
      .array(
        z
          .object({
            name: z.string().min(1),
            tier: z.string().min(1),
            sha256: z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits (the SHA-256 of the key)'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

/** An access config with only the anonymous tier (no keys accepted). */
export function anonymousOnly(anonymous: Partial<TierLimits> = {}): AccessConfig {
  return { anonymous: { ...DEFAULT_ANONYMOUS, ...anonymous }, tiers: {}, keys: new Map() };
}

/** Parses a keys file (YAML or JSON); every problem names the file and the field. */
export function parseAccessConfig(text: string, file = 'api keys file'): AccessConfig {
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (err) {
    throw new ServeError('SERVE_GATEWAY_CONFIG', `${file}: not YAML or JSON: ${(err as Error).message}`);
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ServeError('SERVE_GATEWAY_CONFIG', `${file}: ${i?.path.join('.') || '(top)'}: ${i?.message}`);
  }
  const keys = new Map<string, KeyEntry>();
  for (const [n, k] of r.data.keys.entries()) {
    if (!(k.tier in r.data.tiers)) {
      throw new ServeError(
        'SERVE_GATEWAY_CONFIG',
        `${file}: keys.${n}.tier: unknown tier "${k.tier}"; define it under tiers (${Object.keys(r.data.tiers).join(', ') || 'none defined'})`,
      );
    }
    keys.set(k.sha256.toLowerCase(), { name: k.name, tier: k.tier });
  }
  return { anonymous: r.data.anonymous, tiers: r.data.tiers, keys };
}

/** Reads and parses a keys file. */
export function loadAccessConfig(path: string): AccessConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ServeError('SERVE_GATEWAY_CONFIG', `cannot read ${path}: ${(err as Error).message}`);
  }
  return parseAccessConfig(text, path);
}
