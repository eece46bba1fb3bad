import type { Output } from '../../output.js';

/** How often a server reports its replicas and request rate (with --json, for the pipeline tree). */
export const SERVING_REPORT_MS = 5000;

/**
 * Sum of a Prometheus counter's samples (`name{labels} value` or `name value`) in a /metrics page, of those
 * whose line matches `only` when given.
 */
export function counterTotal(page: string, name: string, only?: RegExp): number {
  let total = 0;
  for (const line of page.split('\n')) {
    if (!line.startsWith(name) || !/[\s{]/.test(line.charAt(name.length))) continue;
    if (only && !only.test(line)) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) total += v;
  }
  return total;
}

const get = (url: string) => fetch(url, { signal: AbortSignal.timeout(5000) });

/** Ready and desired replicas: the gateway's pools, or this one server (ready once a version is loaded). */
async function replicas(url: string, gateway: boolean): Promise<{ ready: number; desired: number }> {
  if (!gateway) return { ready: (await get(`${url}/v2/health/ready`)).status === 200 ? 1 : 0, desired: 1 };
  const s = (await (await get(`${url}/gateway/status`)).json()) as {
    models: { ready: number; desired: number }[];
  };
  return {
    ready: s.models.reduce((a, m) => a + m.ready, 0),
    desired: s.models.reduce((a, m) => a + m.desired, 0),
  };
}

/**
 * With --json, reports `{"event":"serving","replicas","desired","requestsPerSecond"}` every few seconds, read
 * from the server's own /metrics and status endpoints: the pipeline engine shows it as the serve step's
 * progress. Returns the function that stops it.
 */
export function reportServing(out: Output, url: string, gateway: boolean): () => void {
  if (!out.json) return () => {};
  const counter = gateway ? 'distml_gateway_requests_total' : 'distml_requests_total';
  let last: { at: number; total: number } | undefined;
  const tick = async () => {
    try {
      // A server counts its health and metrics answers too (ours among them): only predictions are traffic.
      const only = gateway ? undefined : /api="v[12]"/;
      const total = counterTotal(await (await get(`${url}/metrics`)).text(), counter, only);
      const at = Date.now();
      const rps = last ? ((total - last.total) * 1000) / Math.max(1, at - last.at) : 0;
      last = { at, total };
      const r = await replicas(url, gateway);
      out.event({ event: 'serving', replicas: r.ready, desired: r.desired, requestsPerSecond: rps });
    } catch {
      // stopping, or too busy to answer in time: the next tick reports
    }
  };
  const timer = setInterval(() => void tick(), SERVING_REPORT_MS);
  timer.unref();
  return () => clearInterval(timer);
}
