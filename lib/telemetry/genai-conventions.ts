/**
 * The names of the OpenTelemetry GenAI semantic conventions that claude-rx records. They are copied, as the SDK does:
 * `@opentelemetry/semantic-conventions` exports them only from its unstable `incubating` entry, which says to copy.
 */
export const GEN_AI = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  tokenType: 'gen_ai.token.type',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolType: 'gen_ai.tool.type',
  toolCallArguments: 'gen_ai.tool.call.arguments',
  toolCallResult: 'gen_ai.tool.call.result',
  errorType: 'error.type',
  serverAddress: 'server.address',
  serverPort: 'server.port',
} as const;

/** The GenAI client metrics, with their units and the conventions' bucket boundaries. */
export const GEN_AI_METRICS = {
  tokenUsage: {
    name: 'gen_ai.client.token.usage',
    unit: '{token}',
    description: 'Number of input and output tokens used.',
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
  },
  operationDuration: {
    name: 'gen_ai.client.operation.duration',
    unit: 's',
    description: 'GenAI operation duration.',
    buckets: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
  },
  timeToFirstChunk: {
    name: 'gen_ai.client.operation.time_to_first_chunk',
    unit: 's',
    description: 'Time to receive the first chunk of a streamed response.',
    buckets: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
  },
  timePerOutputChunk: {
    name: 'gen_ai.client.operation.time_per_output_chunk',
    unit: 's',
    description: 'Time between consecutive chunks of a streamed response, after the first.',
    buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5],
  },
} as const;

/** `error.type` of an operation that its subscriber ended (unsubscribe) before it did. */
export const CANCELED_ERROR_TYPE = 'canceled';

/** The platform of each client class the SDK family ships, for SDKs that do not say it themselves. */
const PROVIDERS_BY_CLASS: Readonly<Record<string, string>> = {
  AnthropicVertex: 'gcp.vertex_ai',
  AnthropicBedrock: 'aws.bedrock',
  AnthropicBedrockMantle: 'aws.bedrock',
  AnthropicFoundry: 'azure.ai.inference',
};

/**
 * `gen_ai.provider.name` of a client: the platform that serves its requests. By its class first (the Foundry client
 * inherits the SDK's `anthropic`), then what the SDK says (`_genAIProviderName`, set by the SDK and by the Vertex and
 * Bedrock SDKs), else `anthropic`.
 */
export function providerNameOf(client: object): string {
  for (
    let proto = Object.getPrototypeOf(client) as object | null;
    proto;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    const { constructor } = proto as { readonly constructor?: { readonly name?: string } };
    const byClass = PROVIDERS_BY_CLASS[constructor?.name ?? ''];
    if (byClass) return byClass;
  }
  const said = (client as { _genAIProviderName?: unknown })._genAIProviderName;
  return typeof said === 'string' && said !== '' ? said : 'anthropic';
}

/** `server.address` and `server.port` of a client's `baseURL`, when it has one. */
export function serverAttributesOf(client: object): Record<string, string | number> {
  const baseURL = (client as { baseURL?: unknown }).baseURL;
  if (typeof baseURL !== 'string') return {};
  try {
    const url = new URL(baseURL);
    const port = url.port === '' ? (url.protocol === 'http:' ? 80 : 443) : Number(url.port);
    return { [GEN_AI.serverAddress]: url.hostname, [GEN_AI.serverPort]: port };
  } catch {
    return {};
  }
}

/**
 * `error.type` of a failure: the API's error type when it said one (`overloaded_error`, `rate_limit_error`), else the
 * HTTP status, else the error's class name (`IncompleteStreamError`, `ChunkTimeoutError`); never its message.
 */
export function errorTypeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const {
      type,
      status,
      error: body,
    } = error as { type?: unknown; status?: unknown; error?: { error?: { type?: unknown } } };
    if (typeof type === 'string' && type !== '') return type;
    const bodyType = body?.error?.type;
    if (typeof bodyType === 'string' && bodyType !== '') return bodyType;
    if (typeof status === 'number') return String(status);
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return '_OTHER';
}
