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
 * before Claude's first event is a real HTTP status.
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
   * (`{ tool_use_id, name, input, content, is_error }`), then `done` (or an `error` event). Ids increase over the
   * whole response. Unsubscribing (the browser's Stop) aborts the request or tool in progress; `signal` aborts the
   * request before that.
   */
  chat(request: ChatRequest, signal: AbortSignal): Promise<Observable<MessageEvent>> {
    return this.claude.sseRunTools(
      {
        model: request.model ?? this.settings.model,
        max_tokens: request.max_tokens,
        system: SYSTEM,
        messages: [{ role: 'user', content: request.prompt }],
        ...(request.thinking ? { thinking: { type: 'enabled', budget_tokens: 1024 } } : {}),
      },
      { tools: DEMO_TOOLS, maxTurns: MAX_TURNS, signal },
    );
  }
}
