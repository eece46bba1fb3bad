export { fifo, type QueuePolicy, type ResourceRequest, type Waiter } from './policy.js';
export { ResourcePool, SchedulerError, type PoolOptions, type Release } from './pool.js';
