// `distml serve --help` for the gateway's flags (validated in flags.ts).
import {
  BALANCE_POLICIES,
  DEFAULT_ANONYMOUS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_IN_FLIGHT,
} from '../../../serve/index.js';
import type { Command } from '../../command.js';

export const GATEWAY_OPTIONS: Command['options'] = {
  replicas: {
    type: 'string',
    valueName: 'N',
    description: 'gateway: run N replica processes behind a load balancer',
  },
  autoscale: {
    type: 'boolean',
    description: 'gateway: scale replicas on concurrency between --min and --max (KServe/Knative KPA)',
  },
  min: {
    type: 'string',
    valueName: 'N',
    defaultText: '1',
    description: 'autoscale: fewest replicas (0 = scale to zero)',
  },
  max: { type: 'string', valueName: 'N', defaultText: '5', description: 'autoscale: most replicas' },
  'target-concurrency': {
    type: 'string',
    valueName: 'C',
    defaultText: '1',
    description: 'autoscale: requests in flight per replica to aim for (KServe scaleTarget)',
  },
  'stable-window': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '60s',
    description: 'autoscale: averaging window for normal decisions (e.g. 60s, 5s, 800ms)',
  },
  'panic-window': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '10% of stable',
    description: 'autoscale: short window that scales up fast in a burst',
  },
  'panic-threshold': {
    type: 'string',
    valueName: 'X',
    defaultText: '2',
    description: 'autoscale: panic when panic-window concurrency is X times what ready replicas take',
  },
  'scale-down-delay': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '0s',
    description: 'autoscale: hold the highest recommendation this long before scaling down',
  },
  'scale-interval': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '1s',
    description: 'autoscale: decision tick',
  },
  'queue-timeout': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '60s',
    description: 'gateway: longest a request waits for a ready replica (e.g. from zero) before 503',
  },
  'probe-interval': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '500ms',
    description: 'gateway: readiness probe period per replica',
  },
  balance: {
    type: 'string',
    valueName: 'POLICY',
    defaultText: 'least-connections',
    description: `gateway: ${BALANCE_POLICIES.join(' | ')}`,
  },
  'hash-header': {
    type: 'string',
    valueName: 'H',
    defaultText: 'x-session-id',
    description: 'consistent-hash key header (else the client address)',
  },
  'replica-threads': {
    type: 'string',
    valueName: 'T',
    defaultText: '1',
    description: 'gateway: libtorch threads per replica',
  },
  'api-keys': {
    type: 'string',
    valueName: 'FILE',
    description: 'gateway: rate-limit tiers and SHA-256 key hashes (YAML/JSON); turns on rate limits',
  },
  'rate-limit': { type: 'boolean', description: 'gateway: rate-limit anonymous clients (no keys file)' },
  'anon-concurrency': {
    type: 'string',
    valueName: 'N',
    defaultText: String(DEFAULT_ANONYMOUS.concurrency),
    description: 'rate limit: requests at once per anonymous client',
  },
  'anon-rps': {
    type: 'string',
    valueName: 'R',
    defaultText: String(DEFAULT_ANONYMOUS.rps),
    description: 'rate limit: requests/s per anonymous client (token bucket, burst 2R)',
  },
  'anon-queue': {
    type: 'string',
    valueName: 'N',
    defaultText: String(DEFAULT_ANONYMOUS.queue),
    description: 'rate limit: requests an anonymous client may have waiting before 429',
  },
  'audit-log': {
    type: 'string',
    valueName: 'FILE',
    defaultText: 'WORKSPACE/logs/gateway-audit.jsonl',
    description: 'rate limit: per-client request counts (JSON lines, hashed ids)',
  },
  'shard-threshold': {
    type: 'string',
    valueName: 'N',
    description: 'gateway: split requests of more than N examples across replicas',
  },
  shards: {
    type: 'string',
    valueName: 'S',
    defaultText: 'ready replicas',
    description: 'sub-requests per split',
  },
  ensemble: {
    type: 'string',
    valueName: 'A,B',
    description: 'gateway: serve several models and average them at /v1/models/ensemble:predict',
  },
  'ensemble-name': {
    type: 'string',
    valueName: 'NAME',
    defaultText: 'ensemble',
    description: 'model name of the averaging endpoint',
  },
  'max-in-flight': {
    type: 'string',
    valueName: 'N',
    defaultText: String(DEFAULT_MAX_IN_FLIGHT),
    description: 'gateway: model requests worked on at once; beyond, 503 with Retry-After',
  },
  'max-connections': {
    type: 'string',
    valueName: 'N',
    defaultText: String(DEFAULT_MAX_CONNECTIONS),
    description: 'gateway: open client connections; beyond, new ones are closed',
  },
  'exit-with-parent': { type: 'boolean', description: 'exit when stdin closes (replicas of a gateway)' },
  'hash-key': {
    type: 'string',
    valueName: 'KEY',
    description: 'print the SHA-256 of an API key for --api-keys and exit (- reads it from stdin)',
  },
};
