import Anthropic, { type ClientOptions } from '@anthropic-ai/sdk';
import type { ClaudeModuleClient, ClaudeStreamModuleOptions } from './claude-stream.options.js';

const CREDENTIAL_OPTIONS = ['apiKey', 'authToken', 'credentials', 'config', 'profile'] as const;
const CREDENTIAL_VARIABLES = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_PROFILE'] as const;

function redact(message: string, secrets: readonly unknown[]): string {
  let safe = message;
  for (const secret of secrets) {
    if (typeof secret === 'string' && secret.length > 0) safe = safe.split(secret).join('[redacted]');
  }
  return safe;
}

/**
 * The Anthropic client of `ClaudeStreamModule`: `options.client` as given, else one built from `apiKey`, `baseURL`
 * and `clientOptions`. Fails at start-up, rather than at the first request, when no credential is configured
 * anywhere the SDK would look by default (options or environment); the key's value is never put in a message.
 * Options are assumed validated by `resolveClaudeStreamConfig`.
 */
export function createClaudeClient(options: ClaudeStreamModuleOptions): ClaudeModuleClient {
  if (options.client) return options.client;
  const clientOptions: ClientOptions = { ...options.clientOptions };
  if (options.apiKey !== undefined) clientOptions.apiKey = options.apiKey;
  if (options.baseURL !== undefined) clientOptions.baseURL = options.baseURL;

  const configured =
    CREDENTIAL_OPTIONS.some((name) => clientOptions[name] != null) ||
    CREDENTIAL_VARIABLES.some((name) => (process.env[name] ?? '').trim() !== '');
  if (!configured) {
    throw new TypeError(
      'ClaudeStreamModule: no API key: set options.apiKey or the ANTHROPIC_API_KEY environment variable ' +
        '(or options.clientOptions.authToken / credentials / profile, or pass options.client)',
    );
  }
  try {
    return new Anthropic(clientOptions);
  } catch (error) {
    // Not kept as `cause`: the SDK's error could quote a credential; only the redacted message goes on.
    const why = error instanceof Error ? error.message : String(error);
    // eslint-disable-next-line preserve-caught-error
    throw new TypeError(
      `ClaudeStreamModule: the Anthropic client could not be created: ${redact(why, [clientOptions.apiKey, clientOptions.authToken, process.env['ANTHROPIC_API_KEY'], process.env['ANTHROPIC_AUTH_TOKEN']])}`,
    );
  }
}
