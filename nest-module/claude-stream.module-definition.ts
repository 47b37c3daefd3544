import { ConfigurableModuleBuilder } from '@nestjs/common';
import { CLAUDE_STREAM_MODULE_OPTIONS } from './claude-stream.constants.js';
import type { ClaudeStreamModuleOptions } from './claude-stream.options.js';
import { ClaudeUpstreamFilterModule } from './claude-upstream-filter.module.js';

/**
 * The base class of `ClaudeStreamModule`, with `forRoot`/`forRootAsync` and `isGlobal`. A `useClass`/`useExisting`
 * options factory implements `createClaudeStreamOptions()`.
 */
export const { ConfigurableModuleClass: ClaudeStreamConfigurableModule, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<ClaudeStreamModuleOptions>({
    moduleName: 'ClaudeStream',
    optionsInjectionToken: CLAUDE_STREAM_MODULE_OPTIONS,
  })
    .setClassMethodName('forRoot')
    .setFactoryMethodName('createClaudeStreamOptions')
    .setExtras({ isGlobal: false, exceptionFilter: true }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
      // Registered once per application however many forRoot calls import it (a static module).
      imports: extras.exceptionFilter
        ? [...(definition.imports ?? []), ClaudeUpstreamFilterModule]
        : definition.imports,
    }))
    .build();

/**
 * What `ClaudeStreamModule.forRootAsync()` takes: `imports`, `useFactory` + `inject`, `useClass` or `useExisting`
 * (a `ClaudeStreamOptionsFactory`), and `isGlobal`.
 *
 * @example
 * ```ts
 * import { ClaudeStreamModule, type ClaudeStreamModuleAsyncOptions } from 'claude-rx/nest';
 *
 * const asyncOptions: ClaudeStreamModuleAsyncOptions = {
 *   useFactory: () => ({ defaults: { model: 'claude-sonnet-5-5', max_tokens: 1024 } }),
 *   isGlobal: true,
 * };
 * ClaudeStreamModule.forRootAsync(asyncOptions);
 * ```
 */
export type ClaudeStreamModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;
