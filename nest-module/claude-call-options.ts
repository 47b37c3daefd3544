import type {
  ClaudeRequestOptions,
  ClaudeBetaStreamParams,
  ClaudeStreamParams,
  RetryOnRateLimitOptions,
  TimeoutBetweenChunksOptions,
} from '../lib/index.js';
import type { ToSseOptions } from './to-sse.js';

/**
 * The request parameters of a `ClaudeStreamService` call: those of the Messages API (without `stream`), or of the
 * beta API with `betas` (sent through `client.beta.messages`), where `model` and `max_tokens` may be left to the
 * module's `defaults`.
 *
 * @example
 * ```ts
 * import type { ClaudeCallParams } from 'claude-rx/nest';
 *
 * const params: ClaudeCallParams = { messages: [{ role: 'user', content: 'Hello' }], stop_sequences: ['END'] };
 * ```
 */
export type ClaudeCallParams = DefaultsLeftOut<ClaudeStreamParams> | DefaultsLeftOut<ClaudeBetaStreamParams>;

/** Params where `model` and `max_tokens` may be left out (to the module's `defaults`). */
type DefaultsLeftOut<P extends { model: unknown; max_tokens: unknown }> = Omit<P, 'model' | 'max_tokens'> &
  Partial<Pick<P, 'model' | 'max_tokens'>>;

/**
 * Per-call options of `ClaudeStreamService.stream()`, `text()` and `finalMessage()`.
 *
 * @example
 * ```ts
 * import type { ClaudeCallOptions } from 'claude-rx/nest';
 *
 * const options: ClaudeCallOptions = { signal: AbortSignal.timeout(120_000), retry: false, timeout: { each: 5_000 } };
 * ```
 */
export interface ClaudeCallOptions {
  /** Aborts the call (see `claudeStream` for what the subscriber then sees). @defaultValue none */
  readonly signal?: AbortSignal;
  /** SDK request options (`headers`, `timeout`, `maxRetries`, ...). @defaultValue none */
  readonly requestOptions?: Omit<ClaudeRequestOptions, 'signal'>;
  /** Replaces the module's `retry` for this call (`false`: no retry). @defaultValue the module's */
  readonly retry?: RetryOnRateLimitOptions | false;
  /** Replaces the module's `timeout` for this call (`false`: no timeout). @defaultValue the module's */
  readonly timeout?: number | TimeoutBetweenChunksOptions | false;
}

/**
 * Per-call options of `ClaudeStreamService.sse()`: those of every call, plus `toSse`'s, which replace the module's
 * `sse` settings one by one.
 *
 * @example
 * ```ts
 * import type { ClaudeSseCallOptions } from 'claude-rx/nest';
 *
 * const options: ClaudeSseCallOptions = { events: ['text_delta'], heartbeatMs: 5_000 };
 * ```
 */
export interface ClaudeSseCallOptions extends ClaudeCallOptions, ToSseOptions {
  /**
   * How long the resolved Observable waits for a subscriber before the upstream request is aborted.
   * @defaultValue the module's `sse.subscribeTimeoutMs` (5000)
   */
  readonly subscribeTimeoutMs?: number;
  /**
   * The request's `Last-Event-ID` (read it with `@LastEventId()`): set when an `EventSource` reconnects. A request
   * that carries one never starts a new generation upstream: with `resume` it is answered as `resume()` is (the rest
   * of the stream; 204 after its final event; 404; 400); without, with 204 No Content (a
   * `ClaudeStreamNotResumableException`), which stops the `EventSource`.
   * @defaultValue none
   */
  readonly lastEventId?: string | undefined;
  /**
   * Whom the stream belongs to, in resume mode (e.g. the signed-in user's id): only the same owner may resume or stop
   * it, and one owner may have at most `resume.maxStreamsPerOwner` live streams (429 beyond). Ignored without `resume`.
   * @defaultValue nobody: whoever has the stream's id may resume or stop it
   */
  readonly owner?: string | undefined;
}
