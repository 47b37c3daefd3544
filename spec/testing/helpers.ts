import Anthropic from '@anthropic-ai/sdk';
import type { FakeClaudeServer } from 'claude-rx/testing';

/** Request params every spec sends; `stream` is added per call. */
export const params = {
  model: 'claude-sonnet-5-5',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'Hi' }],
};

/** The real SDK pointed at the fake server, without retries so each call is one request. */
export function clientFor(server: FakeClaudeServer): Anthropic {
  return new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
}

/** Drains an async iterable, keeping what came before a failure and the failure itself. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of iterable) items.push(item);
    return { items, error: undefined };
  } catch (error) {
    return { items, error };
  }
}

/** A raw `POST /v1/messages`, bypassing the SDK, for byte-level checks. */
export function rawPost(server: FakeClaudeServer, body: unknown = { ...params, stream: true }): Promise<Response> {
  return fetch(`${server.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
