/**
 * A counting semaphore for Argo's `parallelism`: at most `limit` holders at once, served in arrival order.
 * The workflow's limit is shared by all its steps; a template's limit by that template's children.
 */
export class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Runs `work` once a slot is free, and frees the slot when it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.used >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.used++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.used--;
    }
  }
}

/** `work` under `slots` when there is a limit, as it is otherwise. */
export const within = <T>(slots: Slots | undefined, work: () => Promise<T>): Promise<T> =>
  slots ? slots.run(work) : work();
