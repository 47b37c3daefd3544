import * as core from 'claude-rx';

// The public surface, on purpose: a new or removed export must show up here (and in the README's table).
describe('the claude-rx barrel', () => {
  it('exports exactly the public API', () => {
    expect(Object.keys(core).sort()).toEqual(
      [
        'CallsHeldError',
        'ChunkTimeoutError',
        'ClaudeRxError',
        'IncompleteStreamError',
        'MaxTurnsExceededError',
        'MemoryStreamStore',
        'ResumableStreamError',
        'ResumableStreams',
        'SharedBackoff',
        'StreamEndedError',
        'StreamGapError',
        'StreamIdError',
        'StreamLimitError',
        'StreamLostError',
        'StreamNotFoundError',
        'ToolInputParseError',
        'accumulateMessage',
        'claudeStream',
        'defineTool',
        'describeFailure',
        'encodeSse',
        'finalMessage',
        'finalConversation',
        'finalMessages',
        'fromMessageStream',
        'fromStreamEvents',
        'isBetaParams',
        'isOverload',
        'isRateLimitOrOverload',
        'isRunToolsMarker',
        'isStreamRestart',
        'onFinish',
        'partialMessageOf',
        'retryAfterMs',
        'retryOnRateLimit',
        'runTools',
        'serveSse',
        'sseHeartbeat',
        'textOnly',
        'thinkingOnly',
        'timeoutBetweenChunks',
        'toSseFrames',
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

  it('gives each error class a stable code, and ClaudeRxError as their base', () => {
    const errors = [
      new core.IncompleteStreamError(undefined),
      new core.ChunkTimeoutError({ bound: 'first', limitMs: 5, eventsSeen: 0 }),
      new core.ToolInputParseError(0, 'toolu_1', 'f', '{'),
      new core.MaxTurnsExceededError(1, []),
    ];
    expect(errors.map((error) => error.code)).toEqual([
      'CLAUDE_RX_INCOMPLETE_STREAM',
      'CLAUDE_RX_CHUNK_TIMEOUT',
      'CLAUDE_RX_TOOL_INPUT_PARSE',
      'CLAUDE_RX_MAX_TURNS_EXCEEDED',
    ]);
    for (const error of errors) expect(error).toBeInstanceOf(core.ClaudeRxError);
    expect(errors[0]).not.toBeInstanceOf(core.ChunkTimeoutError);
    expect(new Error('plain')).not.toBeInstanceOf(core.ClaudeRxError);
    expect(Object.keys(errors[0]!)).not.toContain(Symbol.for('claude-rx.error'));
  });
});
