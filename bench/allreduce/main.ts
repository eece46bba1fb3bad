// bench/allreduce: Gloo allreduce bus bandwidth between 2 processes over loopback (the collective behind
// `distml train --workers 2`), for 1, 4, 16 and 64 MB of float32, next to this machine's memcpy bandwidth
// (Buffer.copy of 256 MB) as the physical limit. Bus bandwidth = 2·(n−1)/n · bytes / time (NCCL's
// definition: what each link carries in a ring allreduce), so it compares across group sizes.
//   node dist/bench/allreduce/main.js            BENCH_ALLREDUCE_SECONDS=0.5 per size (default 1)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { newJobSecret, ProcessGroup, Store, StoreServer } from '../../src/engine/index.js';
import { report } from '../harness.js';

const SIZES_MB = (process.env['BENCH_ALLREDUCE_MB'] ?? '1,4,16,64').split(',').map(Number);
const SECONDS = Number(process.env['BENCH_ALLREDUCE_SECONDS'] ?? 1);
const RANKS = 2;

interface Row {
  megabytes: number;
  iterations: number;
  secondsPerAllreduce: number;
  algBandwidthGBs: number;
  busBandwidthGBs: number;
}

/** One rank: joins the group, times allreduces of each size, rank 0 prints the rows. */
async function rank(r: number, port: number): Promise<void> {
  const secret = process.env['BENCH_ALLREDUCE_SECRET'] ?? '';
  const store = await Store.connect({ host: '127.0.0.1', port, secret });
  const group = await ProcessGroup.create(store, {
    prefix: 'bench-allreduce',
    rank: r,
    size: RANKS,
    iface: 'lo',
  });
  const rows: Row[] = [];
  for (const mb of SIZES_MB) {
    const bytes = mb * 2 ** 20;
    const data = new Float32Array(bytes / 4).fill(1);
    for (let i = 0; i < 3; i++) await group.allreduce(data, 'sum');
    // Both ranks run the same number of iterations: rank 0 decides from a timed probe and broadcasts it.
    await group.barrier();
    const t = performance.now();
    await group.allreduce(data, 'sum');
    const probe = new Float32Array([Math.max(5, Math.ceil((SECONDS * 1000) / (performance.now() - t)))]);
    await group.broadcast(probe, 0);
    const iterations = probe[0] as number;
    await group.barrier();
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) await group.allreduce(data, 'sum');
    const seconds = (performance.now() - t0) / 1000 / iterations;
    rows.push({
      megabytes: mb,
      iterations,
      secondsPerAllreduce: seconds,
      algBandwidthGBs: bytes / seconds / 1e9,
      busBandwidthGBs: ((2 * (RANKS - 1)) / RANKS) * (bytes / seconds / 1e9),
    });
  }
  await group.close();
  if (r === 0) process.stdout.write(`${JSON.stringify(rows)}\n`);
}

/** memcpy bandwidth: bytes copied per second by Buffer.copy of 256 MB, best of 5. */
function memcpyGBs(): number {
  const n = 256 * 2 ** 20;
  const a = Buffer.alloc(n, 1);
  const b = Buffer.alloc(n);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    a.copy(b);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return n / best / 1e9;
}

async function main(): Promise<void> {
  const role = process.env['BENCH_ALLREDUCE_RANK'];
  if (role !== undefined) return rank(Number(role), Number(process.env['BENCH_ALLREDUCE_PORT']));
  const memcpy = memcpyGBs();
  const secret = newJobSecret();
  const server = await StoreServer.start({ host: '127.0.0.1', secret });
  const self = fileURLToPath(import.meta.url);
  const outputs = await Promise.all(
    Array.from({ length: RANKS }, (_, r) => {
      const child = spawn(process.execPath, [self], {
        env: {
          ...process.env,
          BENCH_ALLREDUCE_RANK: String(r),
          BENCH_ALLREDUCE_PORT: String(server.port),
          BENCH_ALLREDUCE_SECRET: secret,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      return new Promise<string>((resolve, reject) =>
        child.on('exit', (code) =>
          code === 0 ? resolve(out) : reject(new Error(`rank ${r} exited with ${code}`)),
        ),
      );
    }),
  ).finally(() => server.close());
  const rows = JSON.parse(outputs[0] as string) as Row[];
  report('allreduce', {
    command: 'node dist/bench/allreduce/main.js',
    ranks: RANKS,
    transport: 'Gloo over loopback (lo), one process per rank',
    memcpyGBs: memcpy,
    rows: rows.map((r) => ({ ...r, busBandwidthVsMemcpy: r.busBandwidthGBs / memcpy })),
  });
}

await main();
