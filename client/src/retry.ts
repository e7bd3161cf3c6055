import { ErrorCode } from '@arbor/protocol';
import { sleep, systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { ArborClientError } from './errors.js';

/** How {@link retry} spaces and bounds its attempts. */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 5. */
  attemptsMax?: number;
  /** Delay before the second attempt; doubles each time. Default 100 ms. */
  baseDelayMs?: number;
  /** Upper bound of one delay, before jitter. Default 5000 ms. */
  maxDelayMs?: number;
  /** Which errors are worth another attempt. Default {@link isRetryableError}. */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Stops waiting and attempting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Uniform [0, 1) source for jitter. Default Math.random. */
  random?: () => number;
  clock?: Clock;
}

const RETRYABLE: ReadonlySet<number> = new Set([
  ErrorCode.CONNECTIONLOSS,
  ErrorCode.OPERATIONTIMEOUT,
  ErrorCode.THROTTLED,
  ErrorCode.REQUESTTIMEOUT,
]);

/**
 * Errors after which the same call may succeed: the connection dropped (CONNECTIONLOSS), the
 * call or the member timed out, or the member throttled. Not SESSIONEXPIRED, not a closed
 * client, not a semantic error such as NONODE.
 */
export function isRetryableError(error: unknown): boolean {
  return error instanceof ArborClientError && RETRYABLE.has(error.code);
}

/**
 * The delay before attempt `failures + 1`, after `failures` consecutive failures: 0 for none,
 * then `baseMs · 2^(failures-1)` capped at `maxMs`, with "equal jitter" (a uniform factor in
 * [0.5, 1)), so clients that failed together do not retry together yet never wait less than
 * half the nominal delay.
 */
export function backoffDelayMs(failures: number, baseMs: number, maxMs: number, random: () => number): number {
  if (failures <= 0) return 0;
  const nominal = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  return Math.floor(nominal * (0.5 + random() / 2));
}

/**
 * Calls `fn` until it succeeds, an error is not retryable, or the attempts run out; the last
 * error is thrown. For idempotent operations only (reads, a setData with a version, a delete
 * that tolerates NONODE): writes are already retried exactly once by the client itself.
 *
 * @example
 * const { data } = await retry(() => client.getData('/config'), { attemptsMax: 3 });
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = {}): Promise<T> {
  const attemptsMax = policy.attemptsMax ?? 5;
  const shouldRetry = policy.shouldRetry ?? isRetryableError;
  const clock = policy.clock ?? systemClock;
  for (let attempt = 1; ; attempt++) {
    if (policy.signal?.aborted === true) throw policy.signal.reason;
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= attemptsMax || !shouldRetry(error, attempt)) throw error;
      const delayMs = backoffDelayMs(attempt, policy.baseDelayMs ?? 100, policy.maxDelayMs ?? 5000, policy.random ?? Math.random);
      await sleep(clock, delayMs, policy.signal);
    }
  }
}
