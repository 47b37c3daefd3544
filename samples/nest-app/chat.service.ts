import { Inject, Injectable, type MessageEvent } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { ClaudeStreamService } from 'claude-rx/nest';
import type { ChatRequest } from './chat-request.js';
import { CHAT_SETTINGS, type ChatSettings } from './chat-settings.js';
import { DEMO_TOOLS } from './demo-tools.js';

/** Requests of one chat before the demo gives up on a model that keeps calling tools (an `error` event then). */
const MAX_TURNS = 4;

const SYSTEM =
  'You are the assistant of the claude-rx demo page. Answer briefly and warmly. ' +
  'Use the get_weather tool when asked about the weather.';

/**
 * The chat behind `POST /api/chat`: one `ClaudeStreamService.sseRunTools()` call. It runs the tool loop (`runTools`:
 * Claude calls `get_weather`, the tool runs, Claude is asked again with its result) over one response, and a failure
 * before Claude's first event is a real HTTP status. The module runs it resumable: see `chat()`.
 */
@Injectable()
export class ChatService {
  constructor(
    private readonly claude: ClaudeStreamService,
    @Inject(CHAT_SETTINGS) private readonly settings: ChatSettings,
  ) {}

  /**
   * Starts a chat and resolves once Claude has answered, to the events to return from an `@Sse()` handler: the
   * stream events of every turn between `turn_start` and `turn_end`, a `tool_result` event after each tool run
   * (`{ tool_use_id, name, input, content, is_error }`), then `done` (or an `error` event, or `stopped`). Each event's
   * id is `<stream id>.<position>` (resume mode). A request with `lastEventId` (a reconnect) starts nothing: it gets
   * the events after that id, then the live ones. A dropped connection leaves the run going for the module's
   * `graceMs`, for a reconnect to come back; `signal` aborts the request only before its first event.
   */
  chat(
    request: ChatRequest,
    { lastEventId, signal }: { readonly lastEventId: string | undefined; readonly signal: AbortSignal },
  ): Promise<Observable<MessageEvent>> {
    return this.claude.sseRunTools(
      {
        model: request.model ?? this.settings.model,
        max_tokens: request.max_tokens,
        system: SYSTEM,
        messages: [{ role: 'user', content: request.prompt }],
        ...(request.thinking ? { thinking: { type: 'enabled', budget_tokens: 1024 } } : {}),
      },
      // No `owner`: the demo has no users, so whoever holds a stream's id may read or stop it. The id is 128 random
      // bits that travel only in SSE ids, the Last-Event-ID header and the stop route's body, never in a URL. An app
      // with sign-in passes the user's id as `owner` here, in `stop()` and in `resume()`.
      { tools: DEMO_TOOLS, maxTurns: MAX_TURNS, lastEventId, signal },
    );
  }

  /** Stops a chat by its stream id (or any of its event ids): `true` when it was running and is stopping. */
  stop(id: string): Promise<boolean> {
    return this.claude.stop(id);
  }
}
