import { ResourcePool, type Release } from '../scheduler/index.js';

/**
 * A run's own cap (`distml run --cores N`) in front of the server's shared pool: a step first takes its
 * share of the run's cap, then waits its turn in the shared pool with every other run's steps.
 */
export class CappedPool extends ResourcePool {
  constructor(
    cores: number,
    private readonly shared: ResourcePool,
  ) {
    super({ cores, memory: shared.poolOptions.memory });
  }

  override async acquire(
    owner: string,
    request: { cores: number; memory: number },
    signal?: AbortSignal,
  ): Promise<Release> {
    const own = await super.acquire(owner, request, signal);
    try {
      const machine = await this.shared.acquire(owner, request, signal);
      return () => {
        machine();
        own();
      };
    } catch (err) {
      own();
      throw err;
    }
  }
}
