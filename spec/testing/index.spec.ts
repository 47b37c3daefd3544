import * as testing from 'claude-rx/testing';

describe('claude-rx/testing barrel', () => {
  it('exports exactly the public API', () => {
    expect(Object.keys(testing).sort()).toEqual([
      'FakeClaudeServer',
      'errorReply',
      'messageEvents',
      'recordedFile',
      'recordedReply',
      'redactedThinking',
      'resetBeforeHeaders',
      'serverToolUse',
      'sseFrame',
      'stallBeforeHeaders',
      'streamReply',
      'text',
      'textMessage',
      'thinking',
      'thinkingMessage',
      'toolUse',
      'toolUseMessage',
      'webSearchToolResult',
    ]);
  });
});
