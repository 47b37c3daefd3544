import { readFileSync } from 'node:fs';
import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  RequestMethod,
  Sse,
  SseSignal,
  type MessageEvent,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import { ChatRequestPipe, MAX_PROMPT_LENGTH, type ChatRequest } from './chat-request.js';
import { CHAT_SETTINGS, type ChatSettings } from './chat-settings.js';
import { ChatService } from './chat.service.js';

/**
 * The page, read once. It sits beside this file in `samples/nest-app/`; the build compiles only TypeScript into
 * `dist/samples/nest-app/`, so from there it is read from the source folder.
 */
function loadPage(): string {
  for (const candidate of ['./index.html', '../../../samples/nest-app/index.html']) {
    try {
      return readFileSync(new URL(candidate, import.meta.url), 'utf8');
    } catch {
      // try the next place
    }
  }
  throw new Error('samples/nest-app/index.html not found');
}

@Controller()
export class ChatController {
  private readonly page = loadPage();

  constructor(
    private readonly chats: ChatService,
    @Inject(CHAT_SETTINGS) private readonly settings: ChatSettings,
  ) {}

  /** The single page. */
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  index(): string {
    return this.page;
  }

  /** What the page shows in its header: where answers come from, and the limits. */
  @Get('api/info')
  info(): { mode: ChatSettings['mode']; model: string; models: readonly string[]; maxPromptLength: number } {
    const { mode, model, models } = this.settings;
    return { mode, model, models, maxPromptLength: MAX_PROMPT_LENGTH };
  }

  /**
   * The chat, as Server-Sent Events over a POST (the prompt stays out of URLs and logs). A bad body is a 400 with
   * the problem in `message`; a failure before Claude's first event is a real status (429, 503, 504, 502).
   */
  @Sse('api/chat', { method: RequestMethod.POST })
  @HttpCode(200)
  async chat(
    @Body(ChatRequestPipe) request: ChatRequest,
    @SseSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    return this.chats.chat(request, signal);
  }
}
