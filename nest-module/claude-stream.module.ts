import { Module } from '@nestjs/common';
import { CLAUDE_STREAM_CLIENT, CLAUDE_STREAM_CONFIG, CLAUDE_STREAM_MODULE_OPTIONS } from './claude-stream.constants.js';
import { ClaudeStreamConfigurableModule } from './claude-stream.module-definition.js';
import { resolveClaudeStreamConfig, type ClaudeStreamModuleOptions } from './claude-stream.options.js';
import { ClaudeStreamService } from './claude-stream.service.js';
import { createClaudeClient } from './create-claude-client.js';

/**
 * Provides `ClaudeStreamService` (and the Anthropic client, under `CLAUDE_STREAM_CLIENT`).
 *
 * `forRoot(options)` or `forRootAsync({ imports, useFactory, inject, useClass, useExisting })`, with `isGlobal` to
 * make the service available everywhere. Options are validated when the application starts: a bad one fails
 * start-up with a message that names it (never the API key). The module also registers
 * `ClaudeUpstreamExceptionFilter` app-wide, once however many times `forRoot` is called; it catches only the
 * `ClaudeUpstreamException`s of `sse()` and adds `Retry-After` to its 429s. With `exceptionFilter: false` (next to
 * `isGlobal`), it is not registered: apply it yourself where you want it (`@UseFilters(ClaudeUpstreamExceptionFilter)`).
 *
 * @example
 * ```ts
 * import { Module } from '@nestjs/common';
 * import { ConfigModule, ConfigService } from '@nestjs/config';
 * import { ClaudeStreamModule } from 'claude-rx/nest';
 *
 * @Module({
 *   imports: [
 *     ClaudeStreamModule.forRootAsync({
 *       imports: [ConfigModule],
 *       inject: [ConfigService],
 *       useFactory: (config: ConfigService) => ({
 *         apiKey: config.getOrThrow<string>('ANTHROPIC_API_KEY'),
 *         defaults: { model: 'claude-sonnet-5-5', max_tokens: 1024 },
 *       }),
 *       isGlobal: true,
 *     }),
 *   ],
 * })
 * class AppModule {}
 * ```
 */
@Module({
  providers: [
    {
      provide: CLAUDE_STREAM_CONFIG,
      useFactory: resolveClaudeStreamConfig,
      inject: [CLAUDE_STREAM_MODULE_OPTIONS],
    },
    {
      provide: CLAUDE_STREAM_CLIENT,
      // Depends on the config so that the options are validated before a client is built from them.
      useFactory: (options: ClaudeStreamModuleOptions) => createClaudeClient(options),
      inject: [CLAUDE_STREAM_MODULE_OPTIONS, CLAUDE_STREAM_CONFIG],
    },
    ClaudeStreamService,
  ],
  exports: [ClaudeStreamService, CLAUDE_STREAM_CLIENT],
})
export class ClaudeStreamModule extends ClaudeStreamConfigurableModule {}
