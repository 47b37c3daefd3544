import { defer, map, type OperatorFunction } from 'rxjs';
import { isRunToolsMarker } from '../run-tools-markers.js';
import type { ClaudeRxEvent } from '../types.js';

/** What `withTurn()` emits: an event of `runTools` and the turn it belongs to. */
export interface EventWithTurn {
  /** 1 for the first request. */
  readonly turn: number;
  readonly event: ClaudeRxEvent;
}

/**
 * Pairs each event of `runTools` with its turn: the stream events with that of the `turn_start` before them, the
 * markers with their own.
 *
 * - next: `{ turn, event }` per event; error, complete, unsubscribe: the source's.
 *
 * @returns An operator from `runTools` events to `{ turn, event }`.
 *
 * @example
 * ```ts
 * import { runTools, withTurn } from 'claude-rx';
 *
 * runTools(client, params, { tools })
 *   .pipe(withTurn())
 *   .subscribe(({ turn, event }) => console.log(turn, event.type));
 * ```
 */
export function withTurn(): OperatorFunction<ClaudeRxEvent, EventWithTurn> {
  return (source) =>
    defer(() => {
      let current = 0;
      return source.pipe(
        map((event) => {
          if (isRunToolsMarker(event)) current = event.turn;
          return { turn: current, event };
        }),
      );
    });
}
