import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ClaudeUpstreamExceptionFilter } from './claude-upstream-exception.filter.js';

/**
 * Registers `ClaudeUpstreamExceptionFilter` app-wide, once: a static module is instantiated once per application
 * however many modules import it, where a provider of every `ClaudeStreamModule.forRoot()` would register the filter
 * once per call. The filter catches only `ClaudeUpstreamException`s; every other exception goes on to the app's own.
 *
 * @example
 * ```ts
 * ClaudeStreamModule.forRoot({ ... }); // imports it, unless `exceptionFilter: false`
 * ```
 */
@Module({ providers: [{ provide: APP_FILTER, useClass: ClaudeUpstreamExceptionFilter }] })
export class ClaudeUpstreamFilterModule {}
