import { APIError } from '@anthropic-ai/sdk';
import type { ClaudeBetaStreamEvent, ClaudeStreamEvent } from '../types.js';
import { SseDecoder, type SseWireMessage } from './sse-decoder.js';

/** Where the events of a body go: `deliver` each, while `closed` says whether anyone still wants them. */
export interface EventReceiver {
  readonly closed: boolean;
  deliver(event: ClaudeStreamEvent | ClaudeBetaStreamEvent, data: string): void;
}

/** What the SDK logs to when a frame's data is not JSON. */
interface Logger {
  error(...args: unknown[]): void;
}

/** The SDK's test for an abort (`isAbortError`): a fetch abort, whatever its realm. */
function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

function safeJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Whether a response's body is Server-Sent Events (not, say, Bedrock's binary event stream, which the SDK decodes
 * itself).
 */
export function isEventStream(response: Response): boolean {
  return response.body !== null && (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
}

/**
 * Reads a Messages API stream's body and hands each event over synchronously, with one `await` per network read, by
 * the SDK's own rules (`Stream.fromSSEResponse`):
 *
 * - `ping` and unnamed messages are skipped, and so is a message without data;
 * - `event: error` throws the SDK's `APIError`, with the body's error `type` and the response's headers;
 * - data that is not JSON is logged as the SDK logs it, then its `SyntaxError` is thrown;
 * - an abort ends the read silently (the caller decides what it means), as the SDK's iterator returns;
 * - a socket lost mid-body throws what `fetch` throws (`TypeError: terminated`).
 *
 * It stops reading, and cancels the body, as soon as `receiver.closed` (the subscriber left).
 *
 * @param response The response of a streaming `messages.create`, its body not read yet.
 * @param receiver Gets each event, with its data as it came on the wire.
 * @param logger Where the SDK would log errors (`client.logger`, else the console); `undefined` when its `logLevel`
 *   is `off`.
 */
export async function readEventStream(
  response: Response,
  receiver: EventReceiver,
  logger: Logger | undefined,
): Promise<void> {
  const body = response.body!;
  const reader = body.getReader();
  const text = new TextDecoder('utf-8', { ignoreBOM: true });
  let failure: { readonly error: unknown } | undefined;
  const onMessage = ({ event, data, raw }: SseWireMessage): void => {
    if (failure !== undefined || receiver.closed) return;
    if (event === null || event === 'ping') return;
    if (event === 'error') {
      const error = safeJSON(data) ?? data;
      const type = (error as { error?: { type?: unknown } } | undefined)?.error?.type;
      failure = {
        error: new (APIError as unknown as new (...args: unknown[]) => APIError)(
          undefined,
          error,
          undefined,
          response.headers,
          typeof type === 'string' ? type : undefined,
        ),
      };
      return;
    }
    if (data === '') return;
    let parsed: ClaudeStreamEvent | ClaudeBetaStreamEvent;
    try {
      parsed = JSON.parse(data) as ClaudeStreamEvent | ClaudeBetaStreamEvent;
    } catch (error) {
      logger?.error('Could not parse message into JSON:', data);
      logger?.error('From chunk:', raw);
      failure = { error };
      return;
    }
    receiver.deliver(parsed, data);
  };
  const decoder = new SseDecoder(onMessage);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      decoder.feed(text.decode(value, { stream: true }));
      if (failure !== undefined) throw failure.error;
      if (receiver.closed) return;
    }
    decoder.end(text.decode());
    if (failure !== undefined) throw failure.error;
  } catch (error) {
    if (isAbortError(error)) return;
    throw error;
  } finally {
    // Read to its end, or no longer wanted: either way the body is let go (which aborts a read still in flight).
    reader.cancel().catch(() => undefined);
  }
}
