export { claudeSse } from './claude-sse.js';
export type { ClaudeSseOptions, ClaudeSseRequest } from './claude-sse.js';
export { stopClaudeStream } from './stop-claude-stream.js';
export { ClaudeSseConnectionError, ClaudeSseError, ClaudeSseHttpError } from './client-errors.js';
export type { ClaudeClientEvent, WireToolResult, WireTurnEnd, WireTurnStart } from './client-events.js';
export { accumulateMessage, finalMessage, textOnly, thinkingOnly, tokenUsage } from './client-operators.js';
export { SSE_WIRE_VERSION } from './wire-version.js';
export type { SseErrorData, SseRestartData, SseStoppedData } from '../sse/sse-frame.js';
export type { TokenUsageOptions } from '../operators/token-usage.js';
