/**
 * The `npm start` demo: a short story streamed to the terminal. Claude's thinking comes first, dimmed, then the
 * story as it is written, then the token usage. Ctrl-C stops it at any moment: the subscription ends, which aborts
 * the request, and the program exits normally.
 *
 * It uses the usual operator stack: `timeoutBetweenChunks` for stalls, `retryOnRateLimit` for 429/529, and
 * `tokenUsage` to report the tokens however the stream ends. `connect()` shares the one request between the
 * thinking, the text and the usage.
 *
 * Run: `npm start`, or `node dist/samples/story-cli.js` after `npm run build` (the real API if ANTHROPIC_API_KEY is
 * set, with the model from CLAUDE_MODEL; else the built-in fake Claude server, scripted).
 */
import { styleText } from 'node:util';
import type Anthropic from '@anthropic-ai/sdk';
import { connect, fromEvent, ignoreElements, map, merge, takeUntil, type Observable } from 'rxjs';
import {
  claudeStream,
  retryOnRateLimit,
  textOnly,
  thinkingOnly,
  timeoutBetweenChunks,
  tokenUsage,
  type TokenUsageEnd,
} from 'claude-rx';
import { messageEvents, streamReply, text, thinking, type FakeClaudeServer } from 'claude-rx/testing';
import { isEntryPoint, MODEL, runDemo } from './support/demo-client.js';

/** Options of {@link main}. */
export interface StoryOptions {
  /** Stops the story when it emits. @defaultValue Ctrl-C (SIGINT) */
  readonly stop?: Observable<unknown>;
  /** Styles the thinking and the notes. @defaultValue dim on a color terminal, else unchanged */
  readonly dim?: (text: string) => string;
}

const colorTerminal = process.stdout.isTTY && process.stdout.hasColors();

export function main(
  client: Anthropic,
  write: (text: string) => void = (text) => process.stdout.write(text),
  {
    stop = fromEvent(process, 'SIGINT'),
    dim = colorTerminal ? (text: string) => styleText('dim', text) : (text: string) => text,
  }: StoryOptions = {},
): Promise<void> {
  const events$ = claudeStream(client, {
    model: MODEL,
    max_tokens: 2048,
    thinking: { type: 'enabled', budget_tokens: 1024 },
    messages: [
      { role: 'user', content: 'Write a story of about 150 words about a lighthouse keeper and a lost whale.' },
    ],
  }).pipe(
    // Before the retry, so that each attempt gets fresh timers and the wait between attempts never counts as a stall.
    timeoutBetweenChunks({ first: 60_000, each: 30_000 }),
    retryOnRateLimit({
      onRetry: ({ attempt, delayMs }) => write(dim(`\n(rate limited: retry ${attempt} in ${delayMs} ms)\n`)),
    }),
  );

  const reportUsage = (usage: Anthropic.Usage | undefined, end: TokenUsageEnd) => {
    if (!usage) return; // it failed before the response
    const tokens = `${usage.input_tokens} in, ${usage.output_tokens} out`;
    write(dim(end === 'unsubscribe' ? `\n\nStopped. Tokens so far: ${tokens}\n` : `\n\nTokens: ${tokens}\n`));
  };

  return new Promise((resolve, reject) => {
    events$
      .pipe(
        connect((shared$) =>
          merge(
            // First in the merge, so that it sees the stream's own end before a sibling's end unsubscribes it.
            shared$.pipe(tokenUsage({ onEnd: reportUsage }), ignoreElements()),
            shared$.pipe(thinkingOnly(), map(dim)),
            shared$.pipe(
              textOnly(),
              map((story, index) => (index === 0 ? `\n\n${story}` : story)),
            ),
          ),
        ),
        // Ctrl-C unsubscribes everything above, which aborts the request.
        takeUntil(stop),
      )
      .subscribe({ next: write, error: reject, complete: resolve });
  });
}

/** What the fake server answers when no API key is set: a thinking block, then the story, at reading pace. */
export function demo(server: FakeClaudeServer): void {
  const plan =
    'A lighthouse keeper, alone, and a whale that has lost its pod. The light could guide the whale home, ' +
    'the way it guides ships. Keep it quiet and warm; end at dawn.';
  const story =
    'Every night for thirty years, Ada climbed the hundred and twelve steps of the Skerry light and wound the lamp. ' +
    'Ships passed, and she never met them. Then, one November, the sea began to sing.\n\n' +
    'The whale was young, and alone. It circled the rocks below the tower, calling into the dark, and no answer came. ' +
    'Ada listened until the lamp had turned a thousand times. Then she did something no keeper had done: ' +
    'she slowed the light, long and short, long and short, the rhythm of the song.\n\n' +
    'The whale fell silent. It followed the beam out past the reef, where the water turns black and deep, ' +
    'and sang once more. Far off, something sang back.\n\n' +
    'At dawn the sea was empty. Ada set the lamp to its proper rhythm, wrote "calm, light airs" in the log, ' +
    'and for the first time in thirty years, she did not feel alone.';
  const events = messageEvents([thinking(plan, 'demo-signature', { chunkSize: 8 }), text(story, { chunkSize: 4 })], {
    usage: { input_tokens: 27, output_tokens: 251 },
  });
  server.enqueue(streamReply(events, { delayMs: 25 }));
}

if (isEntryPoint(import.meta)) await runDemo(demo, (client) => main(client));
