import type Anthropic from '@anthropic-ai/sdk';
import type { Context, Span } from '@opentelemetry/api';
import { Observable, tap } from 'rxjs';
import type { ToolResultEvent } from '../run-tools-markers.js';
import { CANCELED_ERROR_TYPE, errorTypeOf, GEN_AI, providerNameOf } from './genai-conventions.js';
import { openTelemetry } from './open-telemetry.js';

/** The tracer's name: claude-rx's spans, beside the SDK's own. */
const TRACER_NAME = 'claude-rx';

/** The name of the span over a whole `runTools` run. */
export const RUN_TOOLS_SPAN_NAME = 'claude-rx.runTools';

/** `client.openTelemetry.traces.contentMode` of SDKs that have it: `'content'` when the app opted in. */
function recordsContent(client: object): boolean {
  const settled = (client as { openTelemetry?: { traces?: { contentMode?: unknown } } }).openTelemetry;
  return settled?.traces?.contentMode === 'content';
}

/** A span's end: its `error.type` and status, once. */
function endSpan(span: Span, api: NonNullable<ReturnType<typeof openTelemetry>>, errorType?: string): void {
  if (errorType !== undefined) {
    span.setAttribute(GEN_AI.errorType, errorType);
    // A run the subscriber ended is no failure of the run.
    if (errorType !== CANCELED_ERROR_TYPE) span.setStatus({ code: api.SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * The spans of one `runTools` run: one `claude-rx.runTools` span (`gen_ai.operation.name` `invoke_agent`) over the run,
 * each turn's request sent in its context (so that the SDK's `anthropic.messages.create` span of every turn is its
 * child), and an `execute_tool {name}` span per tool call. Without `@opentelemetry/api`, `start` gives `undefined`;
 * without a tracer provider, the spans are the API's non-recording ones.
 *
 * Tool arguments and results are recorded only when the client records content (`openTelemetry: { traces: {
 * contentMode: 'content' } }`, as the SDK's own spans do); a failed tool's thrown text never is.
 */
export class RunToolsTracing {
  private ended = false;

  private constructor(
    private readonly api: NonNullable<ReturnType<typeof openTelemetry>>,
    private readonly span: Span,
    private readonly context: Context,
    private readonly provider: string,
    private readonly content: boolean,
  ) {}

  /** Starts the run's span, as a child of the active span. */
  static start(client: object, params: { readonly model?: unknown }): RunToolsTracing | undefined {
    const api = openTelemetry();
    if (!api) return undefined;
    const provider = providerNameOf(client);
    const span = api.trace.getTracer(TRACER_NAME).startSpan(RUN_TOOLS_SPAN_NAME, {
      kind: api.SpanKind.INTERNAL,
      attributes: {
        [GEN_AI.operationName]: 'invoke_agent',
        [GEN_AI.providerName]: provider,
        ...(typeof params.model === 'string' ? { [GEN_AI.requestModel]: params.model } : {}),
      },
    });
    const context = api.trace.setSpan(api.context.active(), span);
    return new RunToolsTracing(api, span, context, provider, recordsContent(client));
  }

  /** Runs `fn` (a turn's subscribe, which sends its request) in the run span's context. */
  inRun<T>(fn: () => T): T {
    return this.api.context.with(this.context, fn);
  }

  /** `result$` (one tool call) in an `execute_tool {name}` span, child of the run's, ended however it ends. */
  toolCall(call: Anthropic.Messages.ToolUseBlock, result$: Observable<ToolResultEvent>): Observable<ToolResultEvent> {
    const { api } = this;
    return new Observable<ToolResultEvent>((subscriber) => {
      const span = api.trace.getTracer(TRACER_NAME).startSpan(
        `execute_tool ${call.name}`,
        {
          kind: api.SpanKind.INTERNAL,
          attributes: {
            [GEN_AI.operationName]: 'execute_tool',
            [GEN_AI.providerName]: this.provider,
            [GEN_AI.toolName]: call.name,
            [GEN_AI.toolCallId]: call.id,
            [GEN_AI.toolType]: 'function',
            ...(this.content ? { [GEN_AI.toolCallArguments]: JSON.stringify(call.input) } : {}),
          },
        },
        this.context,
      );
      let ended = false;
      const end = (errorType?: string) => {
        if (ended) return;
        ended = true;
        endSpan(span, api, errorType);
      };
      // `subscriber` itself, so that one that leaves inside the tool's `run` is seen as gone at once (the tool's
      // signal then fires); and in the tool span's context, so that what `run` traces is its child.
      return api.context.with(api.trace.setSpan(this.context, span), () =>
        result$
          .pipe(
            tap({
              next: (event) => {
                if (event.isError) {
                  // The kind of failure only: the tool's thrown text may hold internals.
                  end(event.error === undefined ? 'tool_error' : errorTypeOf(event.error));
                  return;
                }
                if (this.content && span.isRecording()) {
                  const { content } = event.result;
                  span.setAttribute(
                    GEN_AI.toolCallResult,
                    typeof content === 'string' ? content : JSON.stringify(content),
                  );
                }
                end();
              },
              error: (error: unknown) => end(errorTypeOf(error)),
              complete: () => end(),
              unsubscribe: () => end(CANCELED_ERROR_TYPE),
            }),
          )
          .subscribe(subscriber),
      );
    });
  }

  /** Ends the run's span, once: `failure` is what the run failed with; `canceled` when its subscriber left first. */
  end(how: { readonly failure: unknown } | 'complete' | 'canceled'): void {
    if (this.ended) return;
    this.ended = true;
    endSpan(
      this.span,
      this.api,
      how === 'complete' ? undefined : how === 'canceled' ? CANCELED_ERROR_TYPE : errorTypeOf(how.failure),
    );
  }
}
