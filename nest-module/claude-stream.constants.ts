/**
 * The injection token of the module's options, as given to `forRoot` or returned by the `forRootAsync` factory.
 *
 * @example
 * ```ts
 * import { Inject, Injectable } from '@nestjs/common';
 * import { CLAUDE_STREAM_MODULE_OPTIONS, type ClaudeStreamModuleOptions } from 'claude-rx/nest';
 *
 * @Injectable()
 * class Banner {
 *   constructor(@Inject(CLAUDE_STREAM_MODULE_OPTIONS) private readonly options: ClaudeStreamModuleOptions) {}
 * }
 * ```
 */
export const CLAUDE_STREAM_MODULE_OPTIONS = Symbol('CLAUDE_STREAM_MODULE_OPTIONS');

/**
 * The injection token of the Anthropic client the module uses (`ClaudeStreamService.client`). Override it to hand
 * the service another client, e.g. one pointed at a fake server in tests.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { Test } from '@nestjs/testing';
 * import { CLAUDE_STREAM_CLIENT } from 'claude-rx/nest';
 *
 * const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
 *   .overrideProvider(CLAUDE_STREAM_CLIENT)
 *   .useValue(new Anthropic({ apiKey: 'test', baseURL: fakeServer.url, maxRetries: 0 }))
 *   .compile();
 * ```
 */
export const CLAUDE_STREAM_CLIENT = Symbol('CLAUDE_STREAM_CLIENT');

/** The validated, defaulted configuration the service runs with (internal to the module). */
export const CLAUDE_STREAM_CONFIG = Symbol('CLAUDE_STREAM_CONFIG');
