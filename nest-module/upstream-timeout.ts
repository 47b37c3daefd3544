import { identity, type MonoTypeOperatorFunction } from 'rxjs';
import { timeoutBetweenChunks, type ClaudeRxEvent, type TimeoutBetweenChunksOptions } from '../lib/index.js';
import type { CallRetries } from './upstream-retry-budget.js';

/**
 * A factory of each call's timeout for the module's (or a call's) `timeout` option: `timeoutBetweenChunks` with the
 * limits, told of the SDK's retries by the call's budget, so that `first` bounds each attempt and not the waits
 * between them. The limits are checked now, so that bad ones throw at the call, not at the first request.
 *
 * @example
 * ```ts
 * const timeoutFor = timeoutsFor({ first: 60_000, each: 30_000 });
 * call$.pipe(timeoutFor(retries), retries.retryOperator());
 * ```
 */
export function timeoutsFor(
  timeout: number | TimeoutBetweenChunksOptions | false,
): (retries: CallRetries) => MonoTypeOperatorFunction<ClaudeRxEvent> {
  if (timeout === false) return () => identity;
  timeoutBetweenChunks(timeout);
  const limits: TimeoutBetweenChunksOptions = typeof timeout === 'number' ? { each: timeout } : timeout;
  return (retries) => timeoutBetweenChunks<ClaudeRxEvent>({ ...limits, retryWaits: retries.retryWaits });
}
