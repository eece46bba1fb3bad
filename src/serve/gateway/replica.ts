// One model-server replica: a `distml serve` child process on a port it picks, its readiness as seen through
// /v2/health/ready, and the counters the balancer and the status page read. The gateway owns the process:
// it starts it, probes it, and stops it (SIGTERM, then SIGKILL after a grace period).
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { spawnOwned } from '../../process/index.js';

export type ReplicaState = 'starting' | 'ready' | 'unready' | 'draining' | 'exited';

export interface ReplicaOptions {
  /** argv of the replica command without the port flags, e.g. [node, main.js, 'serve', '--repo', R, '--model', M]. */
  command: string[];
  env?: NodeJS.ProcessEnv;
  /** Readiness probe period once ready. Default 500 ms (100 ms while starting). */
  probeMs?: number;
  /** Consecutive failed probes before a ready replica stops getting traffic. Default 2. */
  failureThreshold?: number;
  /** Called on every state change. */
  onState?: (r: Replica, from: ReplicaState) => void;
}

export interface ReplicaInfo {
  id: number;
  state: ReplicaState;
  url: string;
  pid: number | undefined;
  inFlight: number;
  served: number;
  failed: number;
  started: string;
  readyAfterMs: number | null;
  exitCode?: number | null;
  signal?: string | null;
}

let nextId = 1;

/** A running (or finished) `distml serve` child and what the gateway knows about it. */
export class Replica {
  readonly id = nextId++;
  state: ReplicaState = 'starting';
  url = '';
  inFlight = 0;
  served = 0;
  failed = 0;
  readonly startedAt = Date.now();
  private readyAt: number | undefined;
  private readonly child: ChildProcess;
  private probeTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stderrTail: string[] = [];
  private exit: { code: number | null; signal: string | null } | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;

  constructor(private readonly opts: ReplicaOptions) {
    const [cmd, ...args] = opts.command;
    // stdin stays a pipe: with --exit-with-parent the child exits when the gateway dies and the pipe closes.
    // spawnOwned: the replica also dies when the gateway is SIGKILLed (parent-death signal).
    this.child = spawnOwned(cmd as string, [...args, '--port', '0', '--host', '127.0.0.1', '--json'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        clearTimeout(this.probeTimer);
        this.setState('exited');
        resolve();
      }),
    );
    this.child.on('error', () => undefined); // 'exit' follows; the state says it
    this.child.stdin?.on('error', () => undefined);
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail.push(...d.toString().split('\n').filter(Boolean));
      this.stderrTail = this.stderrTail.slice(-20);
    });
    const lines = createInterface({ input: this.child.stdout! });
    lines.once('line', (line) => this.onListening(line));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True while the balancer may send it requests. */
  get routable(): boolean {
    return this.state === 'ready';
  }

  /** The last lines the replica wrote on stderr (to explain a crash). */
  get lastErrors(): string[] {
    return this.stderrTail;
  }

  info(): ReplicaInfo {
    return {
      id: this.id,
      state: this.state,
      url: this.url,
      pid: this.pid,
      inFlight: this.inFlight,
      served: this.served,
      failed: this.failed,
      started: new Date(this.startedAt).toISOString(),
      readyAfterMs: this.readyAt ? this.readyAt - this.startedAt : null,
      ...(this.exit ? { exitCode: this.exit.code, signal: this.exit.signal } : {}),
    };
  }

  /** A request to this replica failed at the connection level: stop routing to it until a probe passes. */
  connectionFailed(): void {
    if (this.state === 'ready') {
      this.setState('unready');
      this.schedule(50);
    }
  }

  /** Stops routing to it and asks it to drain (SIGTERM); SIGKILL if still alive after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    if (this.state !== 'exited') {
      this.setState('draining');
      clearTimeout(this.probeTimer);
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** Kills the process at once (gateway shutdown after its grace, tests). */
  kill(): void {
    if (this.state !== 'exited') this.child.kill('SIGKILL');
  }

  private onListening(line: string): void {
    try {
      const { url } = JSON.parse(line) as { url?: string };
      if (typeof url !== 'string') throw new Error('no url');
      this.url = url;
      this.schedule(0);
    } catch {
      this.stderrTail.push(`unexpected first line on stdout: ${line.slice(0, 200)}`);
      this.child.kill('SIGKILL');
    }
  }

  private schedule(ms: number): void {
    clearTimeout(this.probeTimer);
    if (this.state === 'exited' || this.state === 'draining') return;
    this.probeTimer = setTimeout(() => void this.probe(), ms);
  }

  private async probe(): Promise<void> {
    let ok = false;
    try {
      const res = await fetch(`${this.url}/v2/health/ready`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      ok = res.status === 200;
    } catch {
      ok = false;
    }
    if (this.state === 'exited' || this.state === 'draining') return;
    if (ok) {
      this.failures = 0;
      if (this.state !== 'ready') {
        this.readyAt ??= Date.now();
        this.setState('ready');
      }
    } else if (this.state === 'ready' && ++this.failures >= (this.opts.failureThreshold ?? 2)) {
      this.setState('unready');
    }
    const period = this.state === 'ready' ? (this.opts.probeMs ?? 500) : 100;
    this.schedule(period);
  }

  private setState(s: ReplicaState): void {
    if (s === this.state) return;
    const from = this.state;
    this.state = s;
    this.opts.onState?.(this, from);
  }
}
