/**
 * How the samples run on their own (`node dist/samples/<name>.js`): against the real Claude API when
 * `ANTHROPIC_API_KEY` is set, else against the fake Claude server of `claude-rx/testing`, started in-process and
 * playing the sample's own script. This is demo plumbing, not part of what the samples show: in your code,
 * `new Anthropic()` is all it takes.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { FakeClaudeServer } from 'claude-rx/testing';

/** The model the samples ask for: `CLAUDE_MODEL`, else `claude-sonnet-5-5`. */
export const MODEL = process.env['CLAUDE_MODEL'] ?? 'claude-sonnet-5-5';

/** Scripts the fake server's replies for one sample, for runs without an API key. */
export type DemoScript = (server: FakeClaudeServer) => void;

/** Whether this module is the program Node was started with (`node dist/samples/<name>.js`), not an import. */
export function isEntryPoint(meta: ImportMeta): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return fileURLToPath(meta.url) === realpathSync(entry);
  } catch {
    return false;
  }
}

/**
 * Runs a sample's `main` with a client for the real API or for a fake server playing `script`, says which on
 * stderr, reports a failure as a short message with exit code 1, and stops the fake server at the end.
 */
export async function runDemo(script: DemoScript, main: (client: Anthropic) => Promise<void>): Promise<void> {
  const apiKey = process.env['ANTHROPIC_API_KEY'];
  let server: FakeClaudeServer | undefined;
  let client: Anthropic;
  // The SDK's own retries are off so that rate limits are left to `retryOnRateLimit` (see its TSDoc).
  if (apiKey) {
    console.error(`[claude-rx demo] Using the Claude API (model ${MODEL}).`);
    client = new Anthropic({ apiKey, maxRetries: 0 });
  } else {
    server = await FakeClaudeServer.start();
    script(server);
    console.error('[claude-rx demo] ANTHROPIC_API_KEY is not set: using the built-in fake Claude server (scripted).');
    client = new Anthropic({ apiKey: 'demo-key', baseURL: server.url, maxRetries: 0 });
  }
  try {
    await main(client);
  } catch (error) {
    console.error(
      `\n[claude-rx demo] Failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
    process.exitCode = 1;
  } finally {
    await server?.close();
  }
}
