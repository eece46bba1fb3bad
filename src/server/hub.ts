// The events of one run as the server saw them, replayed to every follower that connects (the CLI that
// submitted it, a UI), then streamed live; the end of the run ends every stream.
import type { EngineEvent } from '../workflow/index.js';

/** Most events kept per run for late followers; older ones are dropped (the database has the state). */
const MAX_KEPT = 20_000;

export type Listener = (e: EngineEvent | null) => void;

export class EventHub {
  private readonly kept: EngineEvent[] = [];
  private readonly listeners = new Set<Listener>();
  ended = false;

  emit(e: EngineEvent): void {
    this.kept.push(e);
    if (this.kept.length > MAX_KEPT) this.kept.shift();
    for (const l of this.listeners) l(e);
  }

  /** Replays what happened so far, then every new event; `null` marks the end. Returns the unsubscribe. */
  subscribe(l: Listener): () => void {
    for (const e of this.kept) l(e);
    if (this.ended) {
      l(null);
      return () => undefined;
    }
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  end(): void {
    this.ended = true;
    for (const l of this.listeners) l(null);
    this.listeners.clear();
  }
}
