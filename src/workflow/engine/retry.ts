// Argo's retryStrategy, decided without side effects: whether a failed attempt is tried again and after how
// long. retryPolicy picks which failures count, `expression` can veto with `lastRetry.*`, the backoff grows
// by `factor` and each delay is capped by `cap`; `maxDuration` bounds the whole retrying (Argo's semantics).
import { ExpressionError } from '../expr/depends.js';
import { evaluate, expandEnv } from '../expr/lang/evaluate.js';
import { parseDuration } from '../expr/quantity.js';
import type { Template } from '../spec/schema.js';

/** How an attempt that did not succeed ended. */
export interface FailedAttempt {
  phase: 'Failed' | 'Error';
  message: string | null;
  exitCode: number | null;
  durationMs: number;
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; why?: string };

/**
 * Errors worth another try under OnTransientError: the OS or the network was briefly short of something.
 * (Argo's list is Kubernetes' transient API errors, plus TRANSIENT_ERROR_PATTERN.)
 */
const TRANSIENT =
  /EAGAIN|ENOMEM|EMFILE|ENFILE|EBUSY|ETIMEDOUT|ECONNRESET|ECONNREFUSED|EPIPE|resource temporarily unavailable|too many open files|connection reset|timed? ?out/i;

/** Whether the policy retries this kind of failure. */
export function policyRetries(t: Template, a: Pick<FailedAttempt, 'phase' | 'message'>): boolean {
  switch (t.retryStrategy?.retryPolicy ?? 'OnFailure') {
    case 'Always':
      return true;
    case 'OnFailure':
      return a.phase === 'Failed';
    case 'OnError':
      return a.phase === 'Error';
    case 'OnTransientError':
      return a.phase === 'Error' && TRANSIENT.test(a.message ?? '');
  }
}

/** The delay before retry number `attempt + 1`: duration × factor^attempt, at most `cap`. Default 1 s. */
export function backoffMs(t: Template, attempt: number): number {
  const b = t.retryStrategy?.backoff;
  const base = b?.duration !== undefined ? parseDuration(b.duration) : 1000;
  const d = base * (b?.factor ?? 1) ** attempt;
  return b?.cap !== undefined ? Math.min(d, parseDuration(b.cap)) : d;
}

/** `retryStrategy.expression` with Argo's `lastRetry.{exitCode,status,duration,message}` (and the scope). */
function expressionAllows(expression: string, a: FailedAttempt, scope: ReadonlyMap<string, string>): boolean {
  const env = expandEnv(
    new Map([
      ...scope,
      ['lastRetry.exitCode', a.exitCode === null ? '-1' : String(a.exitCode)],
      ['lastRetry.status', a.phase],
      ['lastRetry.duration', String(Math.round(a.durationMs / 1000))],
      ['lastRetry.message', a.message ?? ''],
    ]),
  );
  const v = evaluate(expression, env);
  if (typeof v !== 'boolean')
    throw new ExpressionError(`retryStrategy.expression must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Decides what follows failed attempt number `attempt` (0-based) of a node whose first attempt started at
 * `firstStartedAt`. `deadlineAt` is the template's `timeout`, which retries never pass.
 */
export function decideRetry(
  t: Template,
  attempt: number,
  a: FailedAttempt,
  o: { firstStartedAt: number; now: number; scope: ReadonlyMap<string, string>; deadlineAt?: number },
): RetryDecision {
  const limit = t.retryStrategy?.limit ?? 0;
  if (attempt >= limit || !policyRetries(t, a)) return { retry: false };
  const expression = t.retryStrategy?.expression;
  if (expression !== undefined && !expressionAllows(expression, a, o.scope)) {
    return { retry: false, why: `retryStrategy.expression "${expression}" is false` };
  }
  const delayMs = backoffMs(t, attempt);
  const maxDuration = t.retryStrategy?.backoff?.maxDuration;
  if (maxDuration !== undefined && o.now + delayMs - o.firstStartedAt > parseDuration(maxDuration)) {
    return { retry: false, why: `backoff.maxDuration ${maxDuration} exceeded` };
  }
  if (o.deadlineAt !== undefined && o.now + delayMs >= o.deadlineAt) {
    return { retry: false, why: `timeout ${t.timeout} exceeded` };
  }
  return { retry: true, delayMs };
}
