// Prometheus text exposition (format 0.0.4) for the model server, hand-written: four metric families do not
// need a client library.

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private total = 0;
  constructor(readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.total++;
    const i = this.buckets.findIndex((b) => v <= b);
    if (i >= 0) this.counts[i] = (this.counts[i] as number) + 1;
  }
  render(name: string, labels = ''): string[] {
    const sep = labels ? ',' : '';
    let cum = 0;
    const lines = this.buckets.map((b, i) => {
      cum += this.counts[i] as number;
      return `${name}_bucket{${labels}${sep}le="${b}"} ${cum}`;
    });
    lines.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${this.total}`);
    lines.push(`${name}_sum${labels ? `{${labels}}` : ''} ${this.sum}`);
    lines.push(`${name}_count${labels ? `{${labels}}` : ''} ${this.total}`);
    return lines;
  }
}

/** Request counts by protocol and status, request latency, batch sizes and requests in flight. */
export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Histogram(LATENCY_BUCKETS);
  private readonly batchSize = new Histogram(BATCH_BUCKETS);
  private readonly batchSeconds = new Histogram(LATENCY_BUCKETS);
  inFlight = 0;

  /** One answered request: `api` is v1, v2, health or metrics; `code` its HTTP status. */
  request(api: string, code: number, seconds: number): void {
    const key = `api="${api}",code="${code}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    if (api === 'v1' || api === 'v2') this.latency.observe(seconds);
  }

  /** One forward pass of `examples` examples. */
  batch(examples: number, seconds: number): void {
    this.batchSize.observe(examples);
    this.batchSeconds.observe(seconds);
  }

  /** The exposition text; `versions` is how many model versions are loaded. */
  render(model: string, versions: number): string {
    const m = `model="${model.replace(/["\\\n]/g, '_')}"`;
    const lines = [
      '# HELP distml_requests_total HTTP requests answered, by API and status code.',
      '# TYPE distml_requests_total counter',
      ...[...this.requests].map(([k, v]) => `distml_requests_total{${k}} ${v}`),
      '# HELP distml_request_duration_seconds Latency of prediction requests (v1 and v2), receipt to answer.',
      '# TYPE distml_request_duration_seconds histogram',
      ...this.latency.render('distml_request_duration_seconds'),
      '# HELP distml_batch_size Examples per forward pass after dynamic batching.',
      '# TYPE distml_batch_size histogram',
      ...this.batchSize.render('distml_batch_size', m),
      '# HELP distml_batch_duration_seconds Time of one batched forward pass.',
      '# TYPE distml_batch_duration_seconds histogram',
      ...this.batchSeconds.render('distml_batch_duration_seconds', m),
      '# HELP distml_requests_in_flight Requests received and not yet answered.',
      '# TYPE distml_requests_in_flight gauge',
      `distml_requests_in_flight ${this.inFlight}`,
      '# HELP distml_model_versions_loaded Model versions loaded and ready.',
      '# TYPE distml_model_versions_loaded gauge',
      `distml_model_versions_loaded{${m}} ${versions}`,
    ];
    return `${lines.join('\n')}\n`;
  }
}
