import Anthropic from '@anthropic-ai/sdk';
import { AnthropicFoundry } from '@anthropic-ai/foundry-sdk';
import { AnthropicVertex, type ClientOptions as VertexClientOptions } from '@anthropic-ai/vertex-sdk';
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

/** The Vertex project and region every Vertex client of the specs names; they end up in the request path. */
export const vertexProject = 'test-project';
export const vertexRegion = 'us-east5';

/**
 * The real Vertex client pointed at the fake server, without retries. Its `authClient` stands in for
 * google-auth-library: the SDK only calls `getRequestHeaders()` (and reads `.get('x-goog-user-project')` from the
 * `Headers` it returns), so no Google credentials or metadata server are needed.
 */
export function vertexClientFor(server: FakeClaudeServer, baseURL: string = server.url): AnthropicVertex {
  const authClient = { getRequestHeaders: async () => new Headers({ authorization: 'Bearer test' }) };
  return new AnthropicVertex({
    baseURL,
    region: vertexRegion,
    projectId: vertexProject,
    // The option is typed as google-auth-library's whole AuthClient class; the SDK uses the one method above.
    authClient: authClient as unknown as NonNullable<VertexClientOptions['authClient']>,
    maxRetries: 0,
  });
}

/** The real Foundry client pointed at the fake server (its base URL ends in `/anthropic/`), without retries. */
export function foundryClientFor(server: FakeClaudeServer): AnthropicFoundry {
  return new AnthropicFoundry({ apiKey: 'k', baseURL: `${server.url}/anthropic/`, maxRetries: 0 });
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

/** A raw `POST /v1/messages` (or another path), bypassing the SDK, for byte-level checks. */
export function rawPost(
  server: FakeClaudeServer,
  body: unknown = { ...params, stream: true },
  path = '/v1/messages',
): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
