import type { ClaudeStreamEvent } from 'claude-rx';
import { messageEvents, text, type BlockSpec } from 'claude-rx/testing';

/** The malformed tool input of one of the SDK's own test streams: a key with two values, then trailing garbage. */
export const MALFORMED_JSON_PIECES = ['{"foo": "bar", ', '"baz": "qux": ', '"quux"}', ' trailing garbage'];

/** A `tool_use` block whose input arrives as `MALFORMED_JSON_PIECES`. */
export const malformedToolUse: BlockSpec = {
  type: 'tool_use',
  toEvents: (index) =>
    [
      {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: 'toolu_bad', name: 'lookup', input: {} },
      },
      ...MALFORMED_JSON_PIECES.map((partial_json) => ({
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json },
      })),
      { type: 'content_block_stop', index },
    ] as ClaudeStreamEvent[],
};

/** A whole message: some text, then the malformed tool call, stopping with `tool_use`. */
export function malformedToolMessage(): ClaudeStreamEvent[] {
  return messageEvents([text('Let me look that up.'), malformedToolUse], { stopReason: 'tool_use' });
}
