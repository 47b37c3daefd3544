import type Anthropic from '@anthropic-ai/sdk';
import { concat, defer, from, mergeMap, Observable, of, tap, throwError } from 'rxjs';
import { IncompleteStreamError } from '../errors.js';
import { deepFrozenCopy } from '../internal/deep-frozen-copy.js';
import { MessageDraft } from '../internal/message-draft.js';
import { rememberPartialMessage } from '../internal/partial-messages.js';
import { MaxTurnsExceededError } from '../run-tools-errors.js';
import type { ToolResultEvent, TurnEndEvent, TurnStartEvent } from '../run-tools-markers.js';
import { isStreamRestart, type ClaudeBetaStreamEvent, type ClaudeRxEvent, type ClaudeStreamEvent } from '../types.js';
import type { PreparedTool } from './prepare-tools.js';
import { runToolCall } from './run-tool-call.js';

type MessageParam = Anthropic.Messages.MessageParam;
type ToolResultBlockParam = Anthropic.Messages.ToolResultBlockParam;
type ToolUseBlock = Anthropic.Messages.ToolUseBlock;

/** What the turn loop runs on: how to send a request, the tools, and the limits. */
export interface TurnLoopOptions {
  /**
   * Sends one turn's request, with the conversation so far: a cold Observable of its stream events (subscribed once
   * per attempt). Injected, so that the loop runs on any client and under a `TestScheduler`.
   */
  readonly request: (messages: MessageParam[], turn: number) => Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent>;
  /** The tools to run, by name. */
  readonly tools: ReadonlyMap<string, PreparedTool>;
  /** The most requests in one run. */
  readonly maxTurns: number;
  /** How many tool calls of a turn run at once. */
  readonly concurrency: number;
  /** Applied to each request's events (a retry, a timeout). */
  readonly perRequest?:
    | ((events: Observable<ClaudeStreamEvent | ClaudeBetaStreamEvent>, turn: number) => Observable<ClaudeRxEvent>)
    | undefined;
  /** Wraps each tool call's Observable (its telemetry span). */
  readonly toolCall?: (call: ToolUseBlock, result$: Observable<ToolResultEvent>) => Observable<ToolResultEvent>;
}

function isToolUse(block: Anthropic.Messages.ContentBlock): block is ToolUseBlock {
  return block.type === 'tool_use';
}

/**
 * The conversation of `runTools`, turn after turn, from `firstMessages`: `turn_start`, the turn's events, `turn_end`
 * with the complete message; then, when the message calls tools, their `tool_result`s (in the order they finish) and
 * the next turn with the assistant message and a user message of the results (in the order of the calls); a
 * `pause_turn` carries on without results. Completes after a message that calls no tool; fails with what a request
 * fails with, `ToolInputParseError` for a tool input that is not JSON, `IncompleteStreamError` for a turn cut short,
 * `MaxTurnsExceededError` after `maxTurns` requests. Unsubscribing unsubscribes the request or the tools in progress.
 *
 * @example
 * ```ts
 * const run$ = turnLoop(params.messages, {
 *   request: (messages) => claudeStream(client, { ...body, messages }),
 *   tools: prepareTools(options.tools, []),
 *   maxTurns: 10,
 *   concurrency: Infinity,
 * });
 * ```
 */
export function turnLoop(firstMessages: readonly MessageParam[], options: TurnLoopOptions): Observable<ClaudeRxEvent> {
  const { request, tools, maxTurns, concurrency, perRequest, toolCall } = options;

  const afterTurn = (
    turn: number,
    history: readonly MessageParam[],
    draft: MessageDraft,
  ): Observable<ClaudeRxEvent> => {
    // A `perRequest` operator may end a request early (e.g. `take`): that turn is incomplete, like a cut stream.
    if (!draft.stopped) return throwError(() => new IncompleteStreamError(draft.toMessage({ resendable: true })));
    // A tool must never run on a value the model did not send: the run fails as the SDK's stream would.
    const badInput = draft.firstToolInputError();
    if (badInput) return throwError(() => badInput);
    // Frozen, so that what the subscriber is shown is what the next request sends.
    const message = deepFrozenCopy(draft.toMessage()!);
    draft.reset();
    const assistant: MessageParam = Object.freeze({ role: 'assistant', content: message.content });
    const conversation = Object.freeze([...history, assistant]);
    const end$ = of<TurnEndEvent>({ type: 'turn_end', turn, message, messages: conversation });
    const calls = message.stop_reason === 'tool_use' ? message.content.filter(isToolUse) : [];
    if (calls.length === 0 && message.stop_reason !== 'pause_turn') return end$;
    if (turn >= maxTurns)
      return concat(
        end$,
        throwError(() => new MaxTurnsExceededError(turn, conversation)),
      );
    if (calls.length === 0) return concat(end$, runTurn(turn + 1, conversation));

    const results: ToolResultBlockParam[] = [];
    return concat(
      end$,
      from(calls).pipe(
        mergeMap((call, index) => {
          const result$ = runToolCall(tools, turn, call);
          return (toolCall ? toolCall(call, result$) : result$).pipe(tap((event) => (results[index] = event.result)));
        }, concurrency),
      ),
      defer(() => {
        const user: MessageParam = Object.freeze({
          role: 'user',
          content: Object.freeze([...results]) as ToolResultBlockParam[],
        });
        return runTurn(turn + 1, Object.freeze([...conversation, user]));
      }),
    );
  };

  const runTurn = (turn: number, history: readonly MessageParam[]): Observable<ClaudeRxEvent> =>
    defer(() => {
      const draft = new MessageDraft();
      const request$ = request([...history], turn);
      const attempts$: Observable<ClaudeRxEvent> = perRequest ? perRequest(request$, turn) : request$;
      const events$ = attempts$.pipe(
        tap({
          next(event: ClaudeRxEvent) {
            if (isStreamRestart(event)) draft.reset();
            else draft.apply(event);
          },
          // What had arrived stays reachable through `partialMessageOf`, whichever `perRequest` operator failed.
          error(error: unknown) {
            if (draft.started) rememberPartialMessage(error, draft.toMessage({ resendable: true }));
          },
        }),
      );
      return concat(
        of<TurnStartEvent>({ type: 'turn_start', turn }),
        events$,
        defer(() => afterTurn(turn, history, draft)),
      );
    });

  return runTurn(1, firstMessages);
}
