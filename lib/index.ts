export { claudeStream } from './claude-stream.js';
export { fromMessageStream } from './from-message-stream.js';
export { fromStreamEvents } from './from-stream-events.js';
export type { StreamEventSource } from './from-stream-events.js';
export { textOnly } from './operators/text-only.js';
export { thinkingOnly } from './operators/thinking-only.js';
export { accumulateMessage } from './operators/accumulate-message.js';
export { finalMessage } from './operators/final-message.js';
export { toolInputs } from './operators/tool-inputs.js';
export type { ToolInput, ToolInputBlock, ToolInputComplete, ToolInputProgress } from './operators/tool-inputs.js';
export { tokenUsage } from './operators/token-usage.js';
export type { TokenUsageEnd, TokenUsageEndInfo, TokenUsageOptions } from './operators/token-usage.js';
export { retryOnRateLimit } from './operators/retry-on-rate-limit.js';
export type { RetryInfo, RetryOnRateLimitConfig, RetryOnRateLimitOptions } from './operators/retry-on-rate-limit.js';
export { timeoutBetweenChunks } from './operators/timeout-between-chunks.js';
export type { TimeoutBetweenChunksConfig, TimeoutBetweenChunksOptions } from './operators/timeout-between-chunks.js';
export { ClaudeRxError } from './claude-rx-error.js';
export type { ClaudeRxErrorCode } from './claude-rx-error.js';
export { ChunkTimeoutError, IncompleteStreamError, ToolInputParseError } from './errors.js';
export type { ChunkTimeoutBound, ChunkTimeoutInfo } from './errors.js';
export { partialMessageOf } from './partial-message-of.js';
export { isOverload, isRateLimitOrOverload, retryAfterMs } from './rate-limit.js';
export { isStreamRestart } from './types.js';
export { isBetaParams } from './types.js';
export type {
  ClaudeBetaClient,
  ClaudeBetaStreamEvent,
  ClaudeBetaStreamParams,
  ClaudeClient,
  ClaudeRequestOptions,
  ClaudeRxEvent,
  ClaudeStreamEvent,
  ClaudeStreamParams,
  StreamRestartEvent,
} from './types.js';
export { runTools } from './run-tools.js';
export type { RunToolsEvent, RunToolsOptions } from './run-tools.js';
export { defineTool } from './tools/runnable-tool.js';
export type {
  ApiRunnableTool,
  RunnableTool,
  ToolDefinition,
  ToolOutput,
  ToolResultContent,
  ToolRunContext,
} from './tools/runnable-tool.js';
export type { StandardSchemaV1 } from './internal/tool-schema.js';
export { onFinish } from './operators/on-finish.js';
export type { StreamFinish } from './operators/on-finish.js';
export { withTurn } from './operators/with-turn.js';
export type { EventWithTurn } from './operators/with-turn.js';
export { finalConversation, finalMessages } from './operators/final-conversation.js';
export { isRunToolsMarker } from './run-tools-markers.js';
export type { RunToolsMarker, ToolResultEvent, TurnEndEvent, TurnStartEvent } from './run-tools-markers.js';
export { MaxTurnsExceededError } from './run-tools-errors.js';
export { describeFailure } from './sse/describe-failure.js';
export type { ClaudeFailureType, FailureDescription } from './sse/describe-failure.js';
export { toSseFrames } from './sse/to-sse-frames.js';
export type { SseEventSelector, SseFilteredEvent, SseFramesOptions } from './sse/to-sse-frames.js';
export type {
  SseComment,
  SseErrorData,
  SseFrame,
  SseMessage,
  SseRestartData,
  SseStoppedData,
} from './sse/sse-frame.js';
export { sseHeartbeat } from './sse/sse-heartbeat.js';
export { encodeSse } from './sse/encode-sse.js';
export { CallsHeldError } from './shared-backoff/calls-held-error.js';
export { SharedBackoff } from './shared-backoff/shared-backoff.js';
export type {
  StoredEvent,
  StreamCreateOptions,
  StreamInfo,
  StreamState,
  StreamStore,
} from './resumable/stream-store.js';
export { MemoryStreamStore } from './resumable/memory-stream-store.js';
export {
  ResumableStreamError,
  StreamEndedError,
  StreamGapError,
  StreamIdError,
  StreamLimitError,
  StreamLostError,
  StreamNotFoundError,
} from './resumable/stream-errors.js';
export { ResumableStreams } from './resumable/resumable-streams.js';
export type {
  ProduceOptions,
  ResumableStream,
  ResumableStreamsOptions,
  StreamOwnerOptions,
} from './resumable/resumable-streams.js';
export { serveSse } from './sse/serve-sse.js';
export type { ServeSseOptions } from './sse/serve-sse.js';
