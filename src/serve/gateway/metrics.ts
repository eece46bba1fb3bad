// The gateway's own Prometheus metrics (text format 0.0.4): requests by model and status, retries, rate-limit
// refusals by tier, audit-log write failures, and per model the replicas by state, desired count,
// concurrency and scale events.
import type { PoolStatus } from './pool.js';

const esc = (s: string) => s.replace(/["\\\n]/g, '_');

/** Counters the gateway updates as requests pass; gauges are read from the pools at render time. */
export class GatewayMetrics {
  private readonly requests = new Map<string, number>();
  private readonly limited = new Map<string, number>();
  private readonly retries = new Map<string, number>();
  sharded = 0;
  /** Failed audit-log writes and the lines they dropped (the gateway keeps serving). */
  auditWriteFailures = 0;
  auditLinesDropped = 0;

  request(model: string, code: number): void {
    const k = `model="${esc(model)}",code="${code}"`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  rateLimited(tier: string): void {
    const k = `tier="${esc(tier)}"`;
    this.limited.set(k, (this.limited.get(k) ?? 0) + 1);
  }

  retry(model: string): void {
    const k = `model="${esc(model)}"`;
    this.retries.set(k, (this.retries.get(k) ?? 0) + 1);
  }

  render(pools: PoolStatus[]): string {
    const counter = (name: string, help: string, m: Map<string, number>) => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} counter`,
      ...[...m].map(([k, v]) => `${name}{${k}} ${v}`),
    ];
    const gauge = (name: string, help: string, f: (p: PoolStatus) => string[]) => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} gauge`,
      ...pools.flatMap(f),
    ];
    const m = (p: PoolStatus) => `model="${esc(p.model)}"`;
    const states = ['starting', 'ready', 'unready', 'draining'];
    const lines = [
      ...counter(
        'distml_gateway_requests_total',
        'Requests answered by the gateway, by model and status.',
        this.requests,
      ),
      ...counter(
        'distml_gateway_rate_limited_total',
        'Requests refused with 429, by client tier.',
        this.limited,
      ),
      ...counter(
        'distml_gateway_retries_total',
        'Requests re-sent after a replica connection failure.',
        this.retries,
      ),
      '# HELP distml_gateway_sharded_requests_total Requests split across replicas (sharded services).',
      '# TYPE distml_gateway_sharded_requests_total counter',
      `distml_gateway_sharded_requests_total ${this.sharded}`,
      '# HELP distml_gateway_audit_write_failures_total Audit-log writes that failed (their lines were dropped).',
      '# TYPE distml_gateway_audit_write_failures_total counter',
      `distml_gateway_audit_write_failures_total ${this.auditWriteFailures}`,
      '# HELP distml_gateway_audit_lines_dropped_total Audit-log lines lost to failed writes.',
      '# TYPE distml_gateway_audit_lines_dropped_total counter',
      `distml_gateway_audit_lines_dropped_total ${this.auditLinesDropped}`,
      ...gauge('distml_gateway_replicas', 'Replica processes by state.', (p) =>
        states.map(
          (s) =>
            `distml_gateway_replicas{${m(p)},state="${s}"} ${p.replicas.filter((r) => r.state === s).length}`,
        ),
      ),
      ...gauge('distml_gateway_desired_replicas', 'Replicas wanted (fixed or by the autoscaler).', (p) => [
        `distml_gateway_desired_replicas{${m(p)}} ${p.desired}`,
      ]),
      ...gauge(
        'distml_gateway_requests_in_flight',
        'Requests sent to replicas and not yet answered.',
        (p) => [`distml_gateway_requests_in_flight{${m(p)}} ${p.inFlight}`],
      ),
      ...gauge('distml_gateway_requests_queued', 'Requests waiting for a ready replica.', (p) => [
        `distml_gateway_requests_queued{${m(p)}} ${p.queued}`,
      ]),
      ...gauge('distml_gateway_stable_concurrency', 'Average concurrency over the stable window.', (p) =>
        p.autoscaler ? [`distml_gateway_stable_concurrency{${m(p)}} ${p.autoscaler.stableConcurrency}`] : [],
      ),
      ...gauge('distml_gateway_scale_decisions', 'Scaling decisions made so far (last 200 kept).', (p) =>
        p.autoscaler ? [`distml_gateway_scale_decisions{${m(p)}} ${p.autoscaler.decisions.length}`] : [],
      ),
      ...gauge('distml_gateway_replica_restarts', 'Crashed replicas replaced.', (p) => [
        `distml_gateway_replica_restarts{${m(p)}} ${p.restarts}`,
      ]),
    ];
    return `${lines.join('\n')}\n`;
  }
}
