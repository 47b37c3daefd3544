import * as core from 'claude-rx';

// The public surface, on purpose: a new or removed export must show up here (and in the README's table).
describe('the claude-rx barrel', () => {
  it('exports exactly the public API', () => {
    expect(Object.keys(core).sort()).toEqual(
      [
        'ChunkTimeoutError',
        'IncompleteStreamError',
        'MaxTurnsExceededError',
        'ToolInputParseError',
        'accumulateMessage',
        'claudeStream',
        'defineTool',
        'finalMessage',
        'finalMessages',
        'fromMessageStream',
        'fromStreamEvents',
        'isRunToolsMarker',
        'isStreamRestart',
        'partialMessageOf',
        'retryOnRateLimit',
        'runTools',
        'textOnly',
        'thinkingOnly',
        'timeoutBetweenChunks',
        'tokenUsage',
        'toolInputs',
        'withTurn',
      ].sort(),
    );
  });

  it('exports error classes with their names', () => {
    expect(new core.IncompleteStreamError(undefined).name).toBe('IncompleteStreamError');
    expect(new core.ChunkTimeoutError({ bound: 'each', limitMs: 5, eventsSeen: 2 }).name).toBe('ChunkTimeoutError');
    expect(new core.ToolInputParseError(1, 'toolu_1', 'get_weather', '{').name).toBe('ToolInputParseError');
    expect(new core.ChunkTimeoutError({ bound: 'each', limitMs: 5, eventsSeen: 2 })).toBeInstanceOf(Error);
    expect(new core.MaxTurnsExceededError(3, []).name).toBe('MaxTurnsExceededError');
    expect(new core.MaxTurnsExceededError(3, [])).toBeInstanceOf(Error);
  });
});
