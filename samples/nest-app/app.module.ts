import type Anthropic from '@anthropic-ai/sdk';
import { Module, type DynamicModule } from '@nestjs/common';
import { ClaudeStreamModule } from 'claude-rx/nest';
import { CHAT_SETTINGS, type ChatSettings } from './chat-settings.js';
import { ChatController } from './chat.controller.js';
import { ChatService } from './chat.service.js';
import { loadPageAssets, PAGE_ASSETS } from './page-assets.js';

/** Options of {@link DemoAppModule.forRoot}. */
export interface DemoAppOptions {
  /** The Anthropic client: for the real API, or pointed at the fake Claude server. */
  readonly client: Anthropic;
  /** Where its answers come from, shown on the page. */
  readonly mode: ChatSettings['mode'];
  /** The default model. @defaultValue `CLAUDE_MODEL`, else `claude-sonnet-5-5` */
  readonly model?: string;
  /**
   * The page's bundled script, `page.js` (`node scripts/build.mjs --page-only <file>` writes one).
   * @defaultValue the one `npm run build` writes: `dist/samples/nest-app/page.js`
   */
  readonly pageScript?: string;
}

/** The models a request may ask for, besides the default. */
const OTHER_MODELS = ['claude-sonnet-5-5', 'claude-opus-4-5', 'claude-haiku-4-5'];

@Module({})
export class DemoAppModule {
  static forRoot({
    client,
    mode,
    model = process.env['CLAUDE_MODEL'] ?? 'claude-sonnet-5-5',
    pageScript,
  }: DemoAppOptions): DynamicModule {
    const models = [model, ...OTHER_MODELS.filter((other) => other !== model)] as [string, ...string[]];
    const settings: ChatSettings = { model, models, mode };
    return {
      module: DemoAppModule,
      imports: [
        ClaudeStreamModule.forRoot({
          client,
          // An overload before the first word is retried twice, briefly; after it, the page shows the error.
          retry: { maxRetries: 2, maxDelayMs: 2_000 },
          timeout: { first: 60_000, each: 30_000 },
          sse: { heartbeatMs: 15_000 },
          // Resumable streams, on the default store (this process's memory): an answer survives a dropped connection.
          // The page reconnects with Last-Event-ID and gets the rest, while the one upstream request goes on. A closed
          // tab lets it run on for graceMs, the time a reconnect has to come back in; the page's Stop ends it at once.
          resume: { graceMs: 15_000 },
        }),
      ],
      controllers: [ChatController],
      providers: [
        { provide: CHAT_SETTINGS, useValue: settings },
        { provide: PAGE_ASSETS, useValue: loadPageAssets(pageScript) },
        ChatService,
      ],
    };
  }
}
