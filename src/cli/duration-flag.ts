import { z } from 'zod';
import { parseDuration } from '../workflow/index.js';

/** Milliseconds in a duration as Argo and Go write them (`500ms`, `10s`, `1h30m`, `7d`, bare seconds); NaN if unreadable. */
function durationMs(text: string): number {
  try {
    return parseDuration(text);
  } catch {
    return NaN;
  }
}

/** A duration for people: `300 ms`, `2.5 s`, `600 s`. */
export const formatDuration = (ms: number) => (ms < 1000 ? `${ms} ms` : `${ms / 1000} s`);

/**
 * A duration flag, parsed to milliseconds and held to [min, max] ms. The one parser every command's duration
 * flags go through, so `--wait 10m`, `--stable-window 60s` and `cache gc --unused-for 7d` read alike.
 */
export function durationFlag(min: number, max = Infinity) {
  const range =
    max === Infinity
      ? `at least ${formatDuration(min)}`
      : `between ${formatDuration(min)} and ${formatDuration(max)}`;
  return z
    .string()
    .transform(durationMs)
    .refine((ms) => Number.isFinite(ms) && ms >= min && ms <= max, {
      message: `must be a duration like 500ms, 30s, 10m, 1h or 7d, ${range}`,
    });
}
