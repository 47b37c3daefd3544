/**
 * Compiled by `npm run typecheck` (never run): every Claude client is accepted where claude-rx takes a client, beta
 * params give beta events, and what is not a client is refused. A `@ts-expect-error` that no longer errors fails the
 * type check, so the refusals are checked too.
 */
import { AnthropicBedrock } from '@anthropic-ai/bedrock-sdk';
import { AnthropicFoundry } from '@anthropic-ai/foundry-sdk';
import Anthropic from '@anthropic-ai/sdk';
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import type { Observable } from 'rxjs';
import {
  accumulateMessage,
  claudeStream,
  runTools,
  textOnly,
  type ClaudeBetaStreamEvent,
  type ClaudeStreamEvent,
  type RunToolsEvent,
} from 'claude-rx';
import { ClaudeStreamModule } from 'claude-rx/nest';

const params = { model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hi' }] };
const betaParams = { ...params, betas: ['compact-2026-01-12'] };
const readonlyBetas = { ...params, betas: ['compact-2026-01-12'] as const };

export function everyClient(): void {
  const clients = [
    new Anthropic({ apiKey: 'k' }),
    new AnthropicVertex({ region: 'us-east5', projectId: 'p' }),
    new AnthropicFoundry({ apiKey: 'k', resource: 'r' }),
    new AnthropicBedrock({ awsRegion: 'us-east-1' }),
  ];
  for (const client of clients) {
    const events: Observable<ClaudeStreamEvent> = claudeStream(client, params);
    const betaEvents: Observable<ClaudeBetaStreamEvent> = claudeStream(client, betaParams);
    const readonlyBetaEvents: Observable<ClaudeBetaStreamEvent> = claudeStream(client, readonlyBetas);
    const text: Observable<string> = betaEvents.pipe(textOnly());
    const run: Observable<RunToolsEvent> = runTools(client, params, { tools: [] });
    const betaRun: Observable<RunToolsEvent> = runTools(client, betaParams, { tools: [] });
    void [events, text, run, betaRun, readonlyBetaEvents, events.pipe(accumulateMessage())];
    void ClaudeStreamModule.forRoot({ client, defaults: { model: 'claude-sonnet-5-5', max_tokens: 64 } });
  }
}

export function notClients(): void {
  // @ts-expect-error a client needs messages.create
  claudeStream({}, params);
  // @ts-expect-error runTools too
  runTools({ create: () => undefined }, params, { tools: [] });
  // @ts-expect-error beta params need beta.messages.create
  claudeStream({ messages: new Anthropic().messages }, betaParams);
}
