export { ClaudeStreamModule } from './claude-stream.module.js';
export { ClaudeStreamService } from './claude-stream.service.js';
export type { ClaudeRunToolsOptions, ClaudeSseRunToolsOptions } from './claude-stream.service.js';
export { CLAUDE_STREAM_CLIENT, CLAUDE_STREAM_MODULE_OPTIONS } from './claude-stream.constants.js';
export type {
  ClaudeModuleClient,
  ClaudeStreamModuleOptions,
  ClaudeStreamOptionsFactory,
  ClaudeStreamResumeOptions,
  ClaudeStreamSseOptions,
} from './claude-stream.options.js';
export type { ClaudeStreamModuleAsyncOptions } from './claude-stream.module-definition.js';
export type { ClaudeFinishInfo, ClaudeFinishOutcome } from './claude-finish-info.js';
export type { ClaudeCallOptions, ClaudeCallParams, ClaudeSseCallOptions } from './claude-call-options.js';
export { toSse } from './to-sse.js';
export type { ToSseOptions } from './to-sse.js';
// The wire format's types live in `claude-rx` (a plain node:http server and the browser client use them too).
export type { SseErrorData, SseEventSelector, SseFilteredEvent, SseRestartData } from '../lib/index.js';
export { httpExceptionFor } from './http-exception-for.js';
export { ClaudeUpstreamException } from './claude-upstream.exception.js';
export { ClaudeUpstreamExceptionFilter } from './claude-upstream-exception.filter.js';
export type { ClaudeFailureType } from '../lib/index.js';
export { ClaudeStreamShutdownError } from './claude-stream-shutdown.error.js';
export { ClientAbortSignal } from './client-abort-signal.decorator.js';
export { LastEventId } from './last-event-id.decorator.js';
export { ClaudeStreamNotResumableException } from './claude-stream-not-resumable.exception.js';
export { ClaudeStreamNotFoundException } from './claude-stream-not-found.exception.js';
export { ClaudeStreamIdException } from './claude-stream-id.exception.js';
export { ClaudeStreamLimitException } from './claude-stream-limit.exception.js';
