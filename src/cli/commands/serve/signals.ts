// How `distml serve` stops on a signal — one path for the model server and the gateway.

/** A running command's stop-on-signal handlers. */
export interface SignalStop {
  /** Settles once `stop` has settled after the first signal (whether it succeeded or not). */
  readonly stopped: Promise<void>;
  /** Removes the handlers: the command is ending another way, or has stopped. */
  dispose(): void;
}

export interface SignalStopOptions {
  signals: readonly NodeJS.Signals[];
  /** Called once, on the first signal: drain and stop. */
  stop: (signal: NodeJS.Signals) => Promise<void>;
  /**
   * Called on every later signal while stopping (e.g. kill replicas still draining). Without it the handlers
   * go at the first signal, so a second one ends the process the default way.
   */
  again?: () => void;
}

/** Installs the handlers now; see SignalStop. */
export function stopOnSignal(o: SignalStopOptions): SignalStop {
  const handlers = new Map<NodeJS.Signals, () => void>();
  const dispose = () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    handlers.clear();
  };
  let first = true;
  const stopped = new Promise<void>((done) => {
    for (const signal of o.signals) {
      const handler = () => {
        if (!first) return o.again?.();
        first = false;
        if (!o.again) dispose();
        // The command ends either way; the stop's own failure has nobody left to tell but the exit.
        void o.stop(signal).then(done, done);
      };
      handlers.set(signal, handler);
      process.on(signal, handler);
    }
  });
  return { stopped, dispose };
}
