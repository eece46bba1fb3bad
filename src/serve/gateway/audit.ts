// The rate limiter's audit log: JSON lines, one per client per flush period, with how many requests that
// client (hashed id, never its key or address) sent and how many were accepted or limited. Appending
// counts instead of one line per request keeps the file small under load. A failing write (disk full, a
// path that became a directory, permissions) never takes the gateway down: the lines are dropped, counted,
// reported through `onWriteError`, and the next flush tries again.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Client } from './rate-limit.js';

interface Counts {
  tier: string;
  name?: string;
  requests: number;
  accepted: number;
  limited: number;
  unauthorized: number;
}

/** Writes that failed so far, and the lines they would have written. */
export interface AuditFailures {
  writes: number;
  linesDropped: number;
}

/** Per-client request counts appended to a JSON-lines file every `flushMs` and on close. */
export class AuditLog {
  private counts = new Map<string, Counts>();
  private since = new Date().toISOString();
  private readonly timer: NodeJS.Timeout;
  readonly failures: AuditFailures = { writes: 0, linesDropped: 0 };

  constructor(
    readonly path: string,
    flushMs = 10_000,
    /** Called for each failed write with the error and the number of lines it dropped. */
    private readonly onWriteError?: (err: Error, linesDropped: number) => void,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  /** One request by `client`: accepted, refused by its limits, or refused for a bad key. */
  record(
    client: Pick<Client, 'id' | 'tier' | 'name'>,
    outcome: 'accepted' | 'limited' | 'unauthorized',
  ): void {
    let c = this.counts.get(client.id);
    if (!c) {
      c = { tier: client.tier, requests: 0, accepted: 0, limited: 0, unauthorized: 0 };
      if (client.name) c.name = client.name;
      this.counts.set(client.id, c);
    }
    c.requests++;
    c[outcome]++;
  }

  /** Appends one line per client seen since the last flush. */
  flush(): void {
    const until = new Date().toISOString();
    if (this.counts.size > 0) {
      const lines = [...this.counts].map(([client, c]) =>
        JSON.stringify({ from: this.since, until, client, ...c }),
      );
      try {
        appendFileSync(this.path, `${lines.join('\n')}\n`);
      } catch (err) {
        this.failures.writes++;
        this.failures.linesDropped += lines.length;
        this.onWriteError?.(err as Error, lines.length);
      }
    }
    this.counts = new Map();
    this.since = until;
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
