import { Observable, type Subscriber } from 'rxjs';
import { ClaudeStreamShutdownError } from './claude-stream-shutdown.error.js';

/** Event-loop turns that a shutdown leaves Nest to end the responses of the streams it stopped. */
const SHUTDOWN_TURNS = 2;

/**
 * The calls of `ClaudeStreamService` still open, so that an application shutdown ends them all: each with a
 * `ClaudeStreamShutdownError` (its teardown aborts the request), and any call made after it too.
 *
 * @example
 * ```ts
 * const registry = new ShutdownRegistry();
 * const events$ = registry.track(claudeStream(client, params)); // ended by registry.shutdown()
 * ```
 */
export class ShutdownRegistry {
  /** The subscribers of the calls in progress, each ended with a `ClaudeStreamShutdownError` by a shutdown. */
  private readonly open = new Set<Subscriber<unknown>>();
  private shuttingDown = false;

  /** `events`, ended with a `ClaudeStreamShutdownError` by a shutdown; one subscribed after it fails at once. */
  track<T>(events: Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      if (this.shuttingDown) {
        subscriber.error(new ClaudeStreamShutdownError());
        return;
      }
      // Erroring the subscriber runs the teardown below, which unsubscribes and so aborts the request.
      this.open.add(subscriber);
      const subscription = events.subscribe(subscriber);
      return () => {
        this.open.delete(subscriber);
        subscription.unsubscribe();
      };
    });
  }

  /** Refuses new calls (they fail with `ClaudeStreamShutdownError`), leaving those open to run on. */
  refuseNew(): void {
    this.shuttingDown = true;
  }

  /**
   * Ends every call still open and refuses new ones; then leaves Nest two event-loop turns to end their responses.
   * Why the turns: Node's `server.close()` (next in Nest's shutdown) closes only the connections idle by then; one
   * still busy would be kept open until its client's keep-alive timeout, making `app.close()` take seconds without
   * `forceCloseConnections`.
   */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    const stopping = [...this.open];
    for (const subscriber of stopping) subscriber.error(new ClaudeStreamShutdownError());
    if (stopping.length === 0) return;
    for (let turn = 0; turn < SHUTDOWN_TURNS; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
