import * as nest from 'claude-rx/nest';

it('claude-rx/nest exports exactly its public API', () => {
  expect(Object.keys(nest).sort()).toEqual(
    [
      'CLAUDE_STREAM_CLIENT',
      'CLAUDE_STREAM_MODULE_OPTIONS',
      'ClaudeStreamIdException',
      'ClaudeStreamLimitException',
      'ClaudeStreamModule',
      'ClaudeStreamNotFoundException',
      'ClaudeStreamService',
      'ClaudeStreamNotResumableException',
      'ClaudeStreamShutdownError',
      'ClaudeUpstreamException',
      'ClaudeUpstreamExceptionFilter',
      'ClientAbortSignal',
      'LastEventId',
      'httpExceptionFor',
      'toSse',
    ].sort(),
  );
});
