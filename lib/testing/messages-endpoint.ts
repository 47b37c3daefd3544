/**
 * The platform whose Messages endpoint a request named, as {@link RecordedRequest.platform} reports it:
 *
 * - `anthropic`: `POST /v1/messages` (the `Anthropic` client);
 * - `vertex`: `POST /projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict`
 *   (`:rawPredict` without streaming), optionally under `/v1` (the `AnthropicVertex` client of
 *   `@anthropic-ai/vertex-sdk`);
 * - `foundry`: `POST /anthropic/v1/messages` (the `AnthropicFoundry` client of `@anthropic-ai/foundry-sdk`).
 *
 * @example
 * ```ts
 * import { FakeClaudeServer, type ClaudePlatform } from 'claude-rx/testing';
 *
 * const server = await FakeClaudeServer.start();
 * // ... make calls through several clients ...
 * const platforms: (ClaudePlatform | undefined)[] = server.requests.map((request) => request.platform);
 * ```
 */
export type ClaudePlatform = 'anthropic' | 'vertex' | 'foundry';

/** A request path matched to a Messages endpoint; internal to `claude-rx/testing`. */
export interface MessagesEndpoint {
  readonly platform: ClaudePlatform;
  /** The model named by the path (Vertex), else `undefined`: the body names it. */
  readonly model: string | undefined;
}

const PATHS: ReadonlyMap<string, ClaudePlatform> = new Map([
  ['/v1/messages', 'anthropic'],
  // Foundry's base URL is `https://{resource}.services.ai.azure.com/anthropic/`; the SDK appends `/v1/messages`.
  ['/anthropic/v1/messages', 'foundry'],
]);

// The Vertex SDK's base URL ends in `/v1`; tests usually pass the bare server URL, so both are accepted. The model
// segment is greedy up to the last `:`, since a model id such as `claude-x@20250101` is sent unencoded.
const VERTEX_PATH =
  /^(?:\/v1)?\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/]+):(?:streamRawPredict|rawPredict)$/;

// Vertex routes token counting through the same shape; the fake serves no count_tokens endpoint, on any platform.
const VERTEX_COUNT_TOKENS_MODEL = 'count-tokens';

/**
 * The Messages endpoint a `POST` to `pathname` (no query string) names, or `undefined` for any other path.
 *
 * @example
 * ```ts
 * messagesEndpoint('/projects/p/locations/global/publishers/anthropic/models/claude-x:rawPredict');
 * // { platform: 'vertex', model: 'claude-x' }
 * ```
 */
export function messagesEndpoint(pathname: string): MessagesEndpoint | undefined {
  const platform = PATHS.get(pathname);
  if (platform) return { platform, model: undefined };
  const encodedModel = VERTEX_PATH.exec(pathname)?.[1];
  if (encodedModel === undefined) return undefined;
  const model = decodeSegment(encodedModel);
  if (model === undefined || model === VERTEX_COUNT_TOKENS_MODEL) return undefined;
  return { platform: 'vertex', model };
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    // A malformed escape names no model the fake could answer for.
    return undefined;
  }
}
