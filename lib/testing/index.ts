export { FakeClaudeServer } from './fake-claude-server.js';
export type { FakeClaudeServerOptions, FakeResponder } from './fake-claude-server.js';
export type { RecordedRequest } from './recorded-request.js';
export type { ClaudePlatform } from './messages-endpoint.js';
export {
  errorReply,
  recordedFile,
  recordedReply,
  resetBeforeHeaders,
  stallBeforeHeaders,
  streamReply,
} from './fake-reply.js';
export type {
  ErrorReply,
  FakeApiError,
  FakeReply,
  FakeStreamEvent,
  RecordedReply,
  RecordedReplyOptions,
  ResetBeforeHeadersReply,
  StallBeforeHeadersReply,
  StreamReply,
  StreamReplyOptions,
} from './fake-reply.js';
export {
  messageEvents,
  redactedThinking,
  serverToolUse,
  text,
  textMessage,
  thinking,
  thinkingMessage,
  toolUse,
  toolUseMessage,
  webSearchToolResult,
} from './event-builders.js';
export type { BlockSpec, MessageEventsOptions, ServerToolUseSpec, ToolUseSpec } from './event-builders.js';
export { sseFrame } from './sse-frames.js';
