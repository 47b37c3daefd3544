import type Anthropic from '@anthropic-ai/sdk';
import { HttpException, Inject, Injectable, type MessageEvent } from '@nestjs/common';
import {
  concat,
  defer,
  from,
  lastValueFrom,
  map,
  mergeAll,
  mergeMap,
  of,
  type Observable,
  type OperatorFunction,
} from 'rxjs';
import { finalMessage } from 'claude-rx';
import { ClaudeStreamService } from 'claude-rx/nest';
import type { ChatRequest } from './chat-request.js';
import { CHAT_SETTINGS, type ChatSettings } from './chat-settings.js';
import { DEMO_TOOLS, runDemoTool } from './demo-tools.js';

/** Turns of the tool loop before the demo stops asking Claude again. */
const MAX_TURNS = 4;

const SYSTEM =
  'You are the assistant of the claude-rx demo page. Answer briefly and warmly. ' +
  'Use the get_weather tool when asked about the weather.';

const STREAM_EVENT_TYPES: ReadonlySet<string> = new Set([
  'message_start',
  'message_delta',
  'message_stop',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
]);

/** The `data` of the `tool_result` event the demo sends after running a tool. */
export interface ToolResultData {
  readonly tool_use_id: string;
  readonly name: string;
  readonly content: string;
  readonly is_error: boolean;
}

/**
 * The chat behind `POST /api/chat`: a call through `ClaudeStreamService.sse()` (so that a failure before the first
 * event is a real HTTP status), then, while Claude stops to use a tool, the demo runs it, sends a `tool_result` event
 * and asks again with the result, over the same response. The whole tool loop lives here.
 */
@Injectable()
export class ChatService {
  constructor(
    private readonly claude: ClaudeStreamService,
    @Inject(CHAT_SETTINGS) private readonly settings: ChatSettings,
  ) {}

  /**
   * Starts a chat and resolves once Claude has answered, to the events to return from an `@Sse()` handler: the
   * stream events of every turn, a `tool_result` event after each tool run, then `done` (or an `error` event).
   * Unsubscribing (the browser's Stop) aborts the request in progress; `signal` aborts it before that.
   */
  async chat(request: ChatRequest, signal: AbortSignal): Promise<Observable<MessageEvent>> {
    const base: Omit<Anthropic.Messages.MessageCreateParamsStreaming, 'messages' | 'stream'> = {
      model: request.model ?? this.settings.model,
      max_tokens: request.max_tokens,
      system: SYSTEM,
      tools: [...DEMO_TOOLS],
      ...(request.thinking ? { thinking: { type: 'enabled', budget_tokens: 1024 } } : {}),
    };
    const messages: Anthropic.Messages.MessageParam[] = [{ role: 'user', content: request.prompt }];
    const first$ = await this.claude.sse({ ...base, messages }, { signal });
    return this.turn(first$, base, messages, signal, 1).pipe(renumbered());
  }

  /** One turn's events; its `done` is replaced by the next turn when Claude asked for a tool. */
  private turn(
    events$: Observable<MessageEvent>,
    base: Omit<Anthropic.Messages.MessageCreateParamsStreaming, 'messages' | 'stream'>,
    messages: readonly Anthropic.Messages.MessageParam[],
    signal: AbortSignal,
    turn: number,
  ): Observable<MessageEvent> {
    return defer(() => {
      const raw: Anthropic.Messages.RawMessageStreamEvent[] = [];
      return events$.pipe(
        mergeMap((event) => {
          if (typeof event.type === 'string' && STREAM_EVENT_TYPES.has(event.type)) {
            raw.push(JSON.parse(event.data as string) as Anthropic.Messages.RawMessageStreamEvent);
          }
          if (event.type !== 'done') return of(event);
          return this.afterTurn(raw, base, messages, signal, turn, event);
        }),
      );
    });
  }

  private afterTurn(
    raw: readonly Anthropic.Messages.RawMessageStreamEvent[],
    base: Omit<Anthropic.Messages.MessageCreateParamsStreaming, 'messages' | 'stream'>,
    messages: readonly Anthropic.Messages.MessageParam[],
    signal: AbortSignal,
    turn: number,
    done: MessageEvent,
  ): Observable<MessageEvent> {
    return defer(async () => {
      const message = await lastValueFrom(from(raw).pipe(finalMessage()));
      if (message.stop_reason !== 'tool_use' || turn >= MAX_TURNS) return of(done);
      const results: ToolResultData[] = message.content
        .filter((block): block is Anthropic.Messages.ToolUseBlock => block.type === 'tool_use')
        .map((block) => ({ tool_use_id: block.id, name: block.name, ...runDemoTool(block.name, block.input) }));
      const next: Anthropic.Messages.MessageParam[] = [
        ...messages,
        { role: 'assistant', content: message.content },
        {
          role: 'user',
          content: results.map(({ tool_use_id, content, is_error }) => ({
            type: 'tool_result' as const,
            tool_use_id,
            content,
            is_error,
          })),
        },
      ];
      const resultEvents = results.map((data): MessageEvent => ({ type: 'tool_result', data: JSON.stringify(data) }));
      return concat(of(...resultEvents), this.nextTurn(base, next, signal, turn + 1));
    }).pipe(mergeAll());
  }

  private nextTurn(
    base: Omit<Anthropic.Messages.MessageCreateParamsStreaming, 'messages' | 'stream'>,
    messages: readonly Anthropic.Messages.MessageParam[],
    signal: AbortSignal,
    turn: number,
  ): Observable<MessageEvent> {
    return defer(async () => {
      try {
        const events$ = await this.claude.sse({ ...base, messages: [...messages] }, { signal });
        return this.turn(events$, base, messages, signal, turn);
      } catch (error) {
        // Headers are long gone: a failure to start the next turn goes out as the same `error` event as toSse's.
        return of(errorEvent(error));
      }
    }).pipe(mergeAll());
  }
}

function errorEvent(error: unknown): MessageEvent {
  const body = error instanceof HttpException ? (error.getResponse() as Record<string, unknown>) : {};
  return {
    type: 'error',
    data: JSON.stringify({
      type: typeof body['type'] === 'string' ? body['type'] : 'upstream_error',
      message: typeof body['message'] === 'string' ? body['message'] : 'The request to Claude failed.',
      retryable: body['retryable'] === true,
    }),
  };
}

/** Ids increasing from 1 over the whole response, across turns (heartbeat comments have none). */
function renumbered(): OperatorFunction<MessageEvent, MessageEvent> {
  return (source) =>
    defer(() => {
      let id = 0;
      return source.pipe(map((event) => (event.type === undefined ? event : { ...event, id: String(++id) })));
    });
}
