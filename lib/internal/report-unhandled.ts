import { config } from 'rxjs';

/**
 * Reports an error nobody can receive any more (thrown by a callback during an unsubscribe) as RxJS reports an error
 * without a handler: asynchronously, to `config.onUnhandledError`, else thrown from a timer.
 */
export function reportUnhandled(error: unknown): void {
  setTimeout(() => {
    const onUnhandledError = config.onUnhandledError;
    if (onUnhandledError) onUnhandledError(error);
    else throw error;
  });
}
