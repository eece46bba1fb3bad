import { ResourcePool, type JobSpec, type Lease, type Release } from '../scheduler/index.js';

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

  /**
   * A scheduled step: its whole gang within the run's cap first (never preempted there), then admitted by the
   * shared pool, whose lease (preemption, resize, requeue) is the step's. The cap is held until release.
   */
  override async admit(job: JobSpec, signal?: AbortSignal): Promise<Lease> {
    // The cap is the run's own default-config pool: one queue, no classes; the shared pool judges priority.
    const { elastic: _e, priorityClass: _p, ...plain } = job;
    const own = await super.admit({ ...plain, queue: 'default', preemptible: false }, signal);
    try {
      const machine = await this.shared.admit(job, signal);
      return {
        id: machine.id,
        get members() {
          return machine.members;
        },
        release: () => {
          machine.release();
          own.release();
        },
        onPreempt: (cb) => machine.onPreempt(cb),
        onResize: (cb) => machine.onResize(cb),
        stopped: () => machine.stopped(),
      };
    } catch (err) {
      own.release();
      throw err;
    }
  }
}
