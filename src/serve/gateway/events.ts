import type { Decision } from './autoscaler.js';

/**
 * What a gateway reports on its event stream (`distml serve --json` prints each as a JSON line): one
 * declaration per event name, so the CLI's describer can be exhaustive and README's list can be checked.
 */
export type GatewayEvent =
  /** The autoscaler changed the replica count (from zero: only from, to and reason). */
  | ({ event: 'scale'; model: string; from: number; to: number; reason: string } & Partial<
      Omit<Decision, 'from' | 'to' | 'reason'>
    >)
  | { event: 'replica-started'; model: string; id: number; pid: number | undefined }
  | { event: 'replica-ready'; model: string; id: number; url: string }
  | { event: 'replica-stopped'; model: string; id: number }
  | {
      event: 'replica-crashed';
      model: string;
      id: number;
      exitCode?: number | null;
      signal?: string | null;
      stderr: string[];
    }
  | { event: 'audit-write-failed'; path: string; lines: number; message: string };
