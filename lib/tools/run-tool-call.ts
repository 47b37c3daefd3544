import type Anthropic from '@anthropic-ai/sdk';
import { catchError, defer, from, isObservable, last, map, mergeMap, Observable, of } from 'rxjs';
import { show } from '../internal/show.js';
import type { InputCheck } from '../internal/tool-schema.js';
import type { ToolResultEvent } from '../run-tools-markers.js';
import type { PreparedTool } from './prepare-tools.js';
import type { ToolResultContent } from './runnable-tool.js';

type ToolResultBlockParam = Anthropic.Messages.ToolResultBlockParam;
type ToolUseBlock = Anthropic.Messages.ToolUseBlock;

/** `type`s of the content blocks a tool may return; a `Record` so that the compiler lists every kind. */
const RESULT_BLOCK_TYPES: ReadonlySet<string> = new Set(
  Object.keys({
    text: true,
    image: true,
    document: true,
    search_result: true,
    tool_reference: true,
    browser_state: true,
  } satisfies Record<ToolResultContent['type'], true>),
);

/** The `content` of a tool result for what `run` produced; throws when it cannot be sent. */
function contentOf(output: unknown): ToolResultBlockParam['content'] {
  if (output === undefined || typeof output === 'string') return output;
  if (
    Array.isArray(output) &&
    output.length > 0 &&
    output.every(
      (item) =>
        typeof item === 'object' && item !== null && RESULT_BLOCK_TYPES.has(String((item as { type?: unknown }).type)),
    )
  ) {
    return output as ToolResultContent[];
  }
  const json = JSON.stringify(output);
  if (json === undefined) throw new TypeError(`the tool returned ${show(output)}, which has no JSON form`);
  return json;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message === '' ? error.name : `${error.name}: ${error.message}`;
  return String(error);
}

/** Gives `factory` a signal that aborts when the subscriber unsubscribes before the Observable has ended. */
function withAbortSignal<T>(factory: (signal: AbortSignal) => Observable<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const controller = new AbortController();
    let ended = false;
    // An end that comes after the subscriber left (it unsubscribed inside `run`, which then returned) is no end for
    // it: the tool ran past the unsubscribe, so its signal still fires.
    const subscription = factory(controller.signal).subscribe({
      next: (value) => subscriber.next(value),
      error(error: unknown) {
        ended = !subscriber.closed;
        subscriber.error(error);
      },
      complete() {
        ended = !subscriber.closed;
        subscriber.complete();
      },
    });
    return () => {
      subscription.unsubscribe();
      if (!ended) controller.abort();
    };
  });
}

/**
 * Answers one tool call of turn `turn` with its `tool_result` event: the input checked against the tool's schema,
 * then `run`. Never fails: an unknown tool, an input the schema rejects, and a tool that throws, rejects or errors
 * become an `is_error` result whose text the model reads (the thrown error kept as the event's `error`).
 * Unsubscribing aborts the tool's `signal`.
 *
 * @example
 * ```ts
 * const results$ = from(calls).pipe(mergeMap((call) => runToolCall(prepared, 1, call), concurrency));
 * ```
 */
export function runToolCall(
  tools: ReadonlyMap<string, PreparedTool>,
  turn: number,
  call: ToolUseBlock,
): Observable<ToolResultEvent> {
  const resultEvent = (content: ToolResultBlockParam['content'], failure?: { error?: unknown }): ToolResultEvent => ({
    type: 'tool_result',
    turn,
    toolUseId: call.id,
    name: call.name,
    input: call.input,
    result: Object.freeze({
      type: 'tool_result',
      tool_use_id: call.id,
      ...(content === undefined ? {} : { content }),
      ...(failure ? { is_error: true } : {}),
    }),
    isError: failure !== undefined,
    ...(failure && 'error' in failure ? { error: failure.error } : {}),
  });
  const entry = tools.get(call.name);
  if (!entry) {
    const names = [...tools.keys()].map((name) => JSON.stringify(name)).join(', ');
    const available = names === '' ? 'none' : names;
    return of(resultEvent(`Unknown tool ${JSON.stringify(call.name)}. Available tools: ${available}.`, {}));
  }
  const { run, schema } = entry;
  return withAbortSignal((toolSignal) =>
    defer(() => {
      const checked = schema.check(call.input);
      return checked instanceof Promise ? from(checked) : of(checked);
    }).pipe(
      mergeMap((checked: InputCheck) => {
        if (!checked.ok) {
          const problems = checked.problems.join('; ');
          return of(resultEvent(`Invalid input for tool ${JSON.stringify(call.name)}: ${problems}`, {}));
        }
        const output: unknown = run(checked.value, { signal: toolSignal, toolUse: call, turn });
        const output$: Observable<unknown> = isObservable(output)
          ? output.pipe(last(null, undefined))
          : isPromiseLike(output)
            ? from(output)
            : of(output);
        return output$.pipe(map((value) => resultEvent(contentOf(value))));
      }),
      catchError((error: unknown) => of(resultEvent(describeError(error), { error }))),
    ),
  );
}
