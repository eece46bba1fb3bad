// Graceful stop for an HTTP server (book 4.2: a replica that goes away answers what it has already accepted):
// stop accepting, close idle keep-alive connections, wait for the requests in flight (up to a timeout), then
// close whatever is left. Shared by the model server and the gateway.
import type { Server } from 'node:http';

/** Requests a server is working on, and a way to wait until there are none. */
export class InFlight {
  private n = 0;
  private waiters: (() => void)[] = [];

  get count(): number {
    return this.n;
  }

  enter(): void {
    this.n++;
  }

  leave(): void {
    if (--this.n === 0) for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once nothing is in flight, or after `timeoutMs`, whichever comes first. */
  async idle(timeoutMs: number): Promise<void> {
    if (this.n === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}

/** Stops `http` gracefully: no new connections, requests in flight answered (up to `timeoutMs`), then closed. */
export async function closeGracefully(http: Server, inFlight: InFlight, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => http.close(() => resolve()));
  http.closeIdleConnections();
  await inFlight.idle(timeoutMs);
  http.closeAllConnections();
  await closed;
}
