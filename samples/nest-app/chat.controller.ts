import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  NotFoundException,
  Post,
  RequestMethod,
  Sse,
  SseSignal,
  type MessageEvent,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import { LastEventId } from 'claude-rx/nest';
import { ChatRequestPipe, MAX_PROMPT_LENGTH, type ChatRequest } from './chat-request.js';
import { CHAT_SETTINGS, type ChatSettings } from './chat-settings.js';
import { ChatService } from './chat.service.js';
import { PAGE_ASSETS, type PageAssets } from './page-assets.js';

@Controller()
export class ChatController {
  constructor(
    private readonly chats: ChatService,
    @Inject(CHAT_SETTINGS) private readonly settings: ChatSettings,
    @Inject(PAGE_ASSETS) private readonly page: PageAssets,
  ) {}

  /** The single page. */
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  index(): string {
    return this.page.html;
  }

  /** The page's script: `page.ts` with `claude-rx/client` and rxjs, bundled by the build. */
  @Get('page.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  script(): string {
    return this.page.script;
  }

  /** Its source map, for the browser's developer tools. */
  @Get('page.js.map')
  @Header('Content-Type', 'application/json; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  sourceMap(): string {
    if (this.page.sourceMap === undefined) throw new NotFoundException('page.js.map was not built');
    return this.page.sourceMap;
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
   *
   * The same request with a `Last-Event-ID` header (the page's client reconnecting after a dropped connection) is a
   * resume: the events after that id, then the live ones, and no new request to Claude; 204 when the stream had
   * ended, 404 when it is unknown or expired.
   */
  @Sse('api/chat', { method: RequestMethod.POST })
  @HttpCode(200)
  async chat(
    @Body(ChatRequestPipe) request: ChatRequest,
    @LastEventId() lastEventId: string | undefined,
    @SseSignal() signal: AbortSignal,
  ): Promise<Observable<MessageEvent>> {
    return this.chats.chat(request, { lastEventId, signal });
  }

  /**
   * The page's Stop: `{ "id": "<stream id>" }` (in the body, never in the URL). The upstream request is aborted at
   * once, and the stream's readers get a `stopped` event. Answers `{ stopped }`: `false` when the stream was over or
   * unknown; 400 when `id` is no stream id.
   */
  @Post('api/chat/stop')
  @HttpCode(200)
  async stop(@Body('id') id: unknown): Promise<{ stopped: boolean }> {
    if (typeof id !== 'string') throw new BadRequestException('id must be a string: the id of the stream to stop');
    return { stopped: await this.chats.stop(id) };
  }
}
