// The gateway's public face (imported by ../index.ts): replica groups behind a load balancer with readiness
// probes, concurrency autoscaling with scale to zero, per-client rate limits, sharding and ensembles.
export { Gateway, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT, type GatewayOptions } from './gateway.js';
export type { GatewayEvent } from './events.js';
export { ReplicaPool, type PoolOptions, type PoolStatus } from './pool.js';
export { Replica, type ReplicaInfo, type ReplicaState } from './replica.js';
export { Autoscaler, DEFAULT_STABLE_WINDOW_MS, type AutoscalerOptions, type Decision } from './autoscaler.js';
export { BALANCE_POLICIES, createBalancer, type BalancePolicy } from './balancer.js';
export {
  anonymousOnly,
  hashKey,
  loadAccessConfig,
  parseAccessConfig,
  DEFAULT_ANONYMOUS,
  DEFAULT_TIER,
  type AccessConfig,
  type TierLimits,
} from './api-keys.js';
export { RateLimiter, identify, type Client } from './rate-limit.js';
export { partition, merge, shardOf } from './shard.js';
