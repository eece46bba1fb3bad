// Per-client rate limits (book 4.4.2, figures 4.17 and 4.18): each client — an API key, or the address of
// an anonymous caller — has at most `concurrency` requests in progress and a token bucket of `burst` tokens
// refilled at `rps` per second. A request over either limit waits in the client's bounded FIFO queue; when
// the queue is full, or the wait exceeds the tier's queue timeout, it is refused (429 with Retry-After).
import { createHash } from 'node:crypto';
import { ServeError } from '../errors.js';
import { hashKey, type AccessConfig, type TierLimits } from './api-keys.js';

/** Who is calling, as the limiter and the audit log know them (never the key itself). */
export interface Client {
  /** `key:<first 16 hex of SHA-256(key)>` or `anon:<first 16 hex of SHA-256(address)>`. */
  id: string;
  tier: string;
  name?: string;
  limits: TierLimits;
}

export type Admission =
  | { admitted: true; release: () => void; waitedMs: number }
  | { admitted: false; retryAfterSeconds: number; reason: string };

interface Waiter {
  resolve: (a: Admission) => void;
  timer: NodeJS.Timeout;
  since: number;
}

interface ClientState {
  client: Client;
  tokens: number;
  refilledAt: number;
  active: number;
  queue: Waiter[];
  pumpTimer?: NodeJS.Timeout;
}

/** Finds the client of a request from its headers; a key that is not in the config is a 401. */
export function identify(
  access: AccessConfig,
  headers: Record<string, string | string[] | undefined>,
  address: string,
): Client {
  const auth = headers['authorization'];
  const bearer = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] : undefined;
  const apiKey = headers['x-api-key'];
  const key = bearer ?? (typeof apiKey === 'string' ? apiKey.trim() : undefined);
  if (!key) {
    const id = createHash('sha256').update(address).digest('hex').slice(0, 16);
    return { id: `anon:${id}`, tier: 'anonymous', limits: access.anonymous };
  }
  const digest = hashKey(key);
  const entry = access.keys.get(digest);
  if (!entry) {
    throw new ServeError(
      'SERVE_UNAUTHORIZED',
      'the API key is not valid; send a key from the gateway operator, or no key for the anonymous limit',
    );
  }
  return {
    id: `key:${digest.slice(0, 16)}`,
    tier: entry.tier,
    name: entry.name,
    limits: access.tiers[entry.tier] as TierLimits,
  };
}

/** Concurrency + token-bucket limits per client, with a bounded waiting queue each. */
export class RateLimiter {
  private readonly clients = new Map<string, ClientState>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    // Forget idle clients so a scan of many addresses cannot grow the map without bound.
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  /** Admits the request now, after a wait in the client's queue, or refuses it. */
  acquire(client: Client): Promise<Admission> {
    const s = this.state(client);
    this.refill(s);
    if (s.queue.length === 0 && this.canRun(s)) return Promise.resolve(this.admit(s, Date.now()));
    const l = s.client.limits;
    if (s.queue.length >= l.queue) {
      return Promise.resolve({
        admitted: false,
        retryAfterSeconds: this.retryAfter(s),
        reason: `over the ${client.tier} limit (${l.concurrency} at once, ${l.rps}/s) with ${l.queue} already waiting`,
      });
    }
    return new Promise((resolve) => {
      const w: Waiter = {
        resolve,
        since: Date.now(),
        timer: setTimeout(() => {
          s.queue = s.queue.filter((x) => x !== w);
          resolve({
            admitted: false,
            retryAfterSeconds: this.retryAfter(s),
            reason: `waited ${l.queueTimeoutMs} ms for the ${client.tier} limit (${l.concurrency} at once, ${l.rps}/s)`,
          });
        }, l.queueTimeoutMs),
      };
      s.queue.push(w);
      this.schedulePump(s);
    });
  }

  /** Active and queued requests per client (for status). */
  snapshot(): { id: string; tier: string; active: number; queued: number; tokens: number }[] {
    return [...this.clients.values()].map((s) => ({
      id: s.client.id,
      tier: s.client.tier,
      active: s.active,
      queued: s.queue.length,
      tokens: Math.floor(s.tokens * 100) / 100,
    }));
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const s of this.clients.values()) {
      clearTimeout(s.pumpTimer);
      for (const w of s.queue.splice(0)) {
        clearTimeout(w.timer);
        w.resolve({ admitted: false, retryAfterSeconds: 1, reason: 'the gateway is stopping' });
      }
    }
  }

  private state(client: Client): ClientState {
    let s = this.clients.get(client.id);
    if (!s) {
      s = { client, tokens: client.limits.burst, refilledAt: Date.now(), active: 0, queue: [] };
      this.clients.set(client.id, s);
    }
    return s;
  }

  private canRun(s: ClientState): boolean {
    return s.active < s.client.limits.concurrency && s.tokens >= 1;
  }

  private admit(s: ClientState, since: number): Admission {
    s.tokens -= 1;
    s.active++;
    let released = false;
    return {
      admitted: true,
      waitedMs: Date.now() - since,
      release: () => {
        if (released) return;
        released = true;
        s.active--;
        this.pump(s);
      },
    };
  }

  private refill(s: ClientState): void {
    const now = Date.now();
    const l = s.client.limits;
    s.tokens = Math.min(l.burst, s.tokens + ((now - s.refilledAt) / 1000) * l.rps);
    s.refilledAt = now;
  }

  /** Admits queued requests while the limits allow; waits for the next token when only tokens are short. */
  private pump(s: ClientState): void {
    this.refill(s);
    while (s.queue.length > 0 && this.canRun(s)) {
      const w = s.queue.shift() as Waiter;
      clearTimeout(w.timer);
      w.resolve(this.admit(s, w.since));
    }
    this.schedulePump(s);
  }

  private schedulePump(s: ClientState): void {
    clearTimeout(s.pumpTimer);
    if (s.queue.length === 0 || s.active >= s.client.limits.concurrency) return;
    const wait = Math.max(1, Math.ceil(((1 - s.tokens) / s.client.limits.rps) * 1000));
    s.pumpTimer = setTimeout(() => this.pump(s), wait);
  }

  /** Seconds until the client could be admitted again: a token for everyone queued plus one. */
  private retryAfter(s: ClientState): number {
    const l = s.client.limits;
    const short = Math.max(0, s.queue.length + 1 - s.tokens);
    return Math.max(1, Math.ceil(short / l.rps));
  }

  private sweep(): void {
    for (const [id, s] of this.clients) {
      this.refill(s);
      if (s.active === 0 && s.queue.length === 0 && s.tokens >= s.client.limits.burst)
        this.clients.delete(id);
    }
  }
}
