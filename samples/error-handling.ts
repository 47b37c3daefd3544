/**
 * Error handling: what can go wrong while streaming, and how to handle each case.
 *
 * 1. The connection is lost mid-answer: the stream errors with `IncompleteStreamError`, whose `partial` keeps the
 *    message as far as it arrived (safe to send back as an assistant turn, e.g. to ask Claude to go on).
 * 2. Rate limited (HTTP 429) or overloaded (529): `retryOnRateLimit` sends the request again after the wait the
 *    server asks for (else a backoff); `onRetry` reports each retry.
 * 3. Other API errors arrive as the SDK's own error classes: test them with `instanceof Anthropic.NotFoundError`,
 *    `Anthropic.AuthenticationError`..., or `Anthropic.APIError` for all of them (`status`, `type`, `requestID`).
 * 4. A stream that stalls: `timeoutBetweenChunks` errors with `ChunkTimeoutError` and aborts the request.
 *
 * Run: `node dist/samples/error-handling.js` (the real API if ANTHROPIC_API_KEY is set, else a scripted fake server
 * that plays each failure). Against the real API, cases 1, 2 and 4 normally just succeed; case 3 asks for a model
 * that does not exist.
 */
import Anthropic from '@anthropic-ai/sdk';
import { catchError, lastValueFrom, map, of } from 'rxjs';
import {
  ChunkTimeoutError,
  claudeStream,
  finalMessage,
  IncompleteStreamError,
  retryOnRateLimit,
  timeoutBetweenChunks,
  type ClaudeStreamParams,
} from 'claude-rx';
import { errorReply, streamReply, textMessage, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

const ask = (content: string): ClaudeStreamParams => ({
  model: MODEL,
  max_tokens: 512,
  messages: [{ role: 'user', content }],
});

const textOf = (message: Anthropic.Message | undefined): string =>
  (message?.content ?? []).map((block) => (block.type === 'text' ? block.text : '')).join('');

/** A one-line account of an SDK error; anything else is rethrown. */
function explain(error: unknown): string {
  if (error instanceof Anthropic.RateLimitError) return `Rate limited (${error.status} ${error.type})`;
  if (error instanceof Anthropic.AuthenticationError)
    return `Authentication failed (${error.status}): check ANTHROPIC_API_KEY`;
  if (error instanceof Anthropic.NotFoundError) return `Not found (${error.status}): ${error.apiMessage}`;
  if (error instanceof Anthropic.APIConnectionError) return `Could not reach the API: ${error.message}`;
  if (error instanceof Anthropic.APIError) {
    // status is undefined for an error event sent mid-stream, after the 200.
    return `API error ${error.status ?? '(mid-stream)'} ${error.type}: ${error.apiMessage} (request-id ${error.requestID})`;
  }
  throw error;
}

export async function main(client: Anthropic, out: (line: string) => void = console.log): Promise<void> {
  out('1. Connection lost mid-answer');
  out(
    await lastValueFrom(
      claudeStream(client, ask('Explain the tides in one paragraph.')).pipe(
        finalMessage(),
        map((message) => `Answer: ${textOf(message)}`),
        catchError((error: unknown) => {
          if (!(error instanceof IncompleteStreamError)) throw error;
          return of(`Connection lost; the partial answer is kept: "${textOf(error.partial)}"`);
        }),
      ),
    ),
  );

  out('2. Rate limited');
  const retried = await lastValueFrom(
    claudeStream(client, ask('Say hello in French.')).pipe(
      retryOnRateLimit({
        maxRetries: 3,
        onRetry: ({ attempt, delayMs, error }) => out(`${explain(error)}; retry ${attempt} in ${delayMs} ms`),
      }),
      finalMessage(),
    ),
  );
  out(`Answer: ${textOf(retried)}`);

  out('3. API error');
  out(
    await lastValueFrom(
      claudeStream(client, { ...ask('Hello'), model: 'claude-no-such-model' }).pipe(
        finalMessage(),
        map((message) => `Answer: ${textOf(message)}`),
        catchError((error: unknown) => of(explain(error))),
      ),
    ),
  );

  out('4. Stalled stream');
  out(
    await lastValueFrom(
      claudeStream(client, ask('Count from one to ten in words.')).pipe(
        timeoutBetweenChunks({ first: 30_000, each: 2_000 }),
        finalMessage(),
        map((message) => `Answer: ${textOf(message)}`),
        catchError((error: unknown) => {
          if (!(error instanceof ChunkTimeoutError)) throw error;
          return of(`Gave up: ${error.message}; the request was aborted`);
        }),
      ),
    ),
  );
}

/** What the fake server answers when no API key is set: each case's failure, in order. */
export function demo(server: FakeClaudeServer): void {
  const tides = 'The Moon pulls on the oceans, raising a bulge of water on the side facing it and another opposite.';
  server.enqueue(
    streamReply(textMessage(tides, { chunkSize: 8 }), { delayMs: 20, resetAfter: 6 }),
    errorReply(429, { retryAfterMs: 500 }),
    streamReply(textMessage('Bonjour !'), { delayMs: 20 }),
    errorReply(404, { message: 'model: claude-no-such-model' }),
    streamReply(textMessage('One, two, three, four, five, six, seven, eight, nine, ten.'), {
      delayMs: 20,
      stallAfter: 5,
    }),
  );
}

if (isEntryPoint(import.meta)) await runDemo(demo, (client) => main(client));
