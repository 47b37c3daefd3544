import type Anthropic from '@anthropic-ai/sdk';
import type { ClaudeStreamEvent } from 'claude-rx';
import {
  messageEvents,
  redactedThinking,
  serverToolUse,
  text,
  thinking,
  toolUse,
  webSearchToolResult,
  type BlockSpec,
} from 'claude-rx/testing';

/** A citation of the word "sunny", as the API sends it in a `citations_delta`. */
export const CITATION: Anthropic.Messages.CitationCharLocation = {
  type: 'char_location',
  cited_text: 'sunny',
  document_index: 0,
  document_title: 'Weather',
  start_char_index: 0,
  end_char_index: 5,
  file_id: null,
};

/**
 * A generated stream with every block and delta kind the SDK types: signed thinking, redacted thinking, text, text
 * with two citations, a server tool use and its web search result, a tool use whose input arrives in pieces; then
 * `more` blocks, and a container when given.
 */
export function everyBlockKind(
  options: { more?: BlockSpec[]; container?: Anthropic.Messages.Container } = {},
): ClaudeStreamEvent[] {
  return messageEvents(
    [
      thinking('Let me think about the weather in Paris.', 'sig_abc', { chunkSize: 7 }),
      redactedThinking('EncryptedRedactedData=='),
      text('Paris is ', { chunkSize: 3 }),
      text('sunny', { citations: [CITATION, { ...CITATION, cited_text: 'sun', end_char_index: 3 }] }),
      serverToolUse({ id: 'srvtoolu_1', name: 'web_search', input: { query: 'paris weather' } }),
      webSearchToolResult({
        toolUseId: 'srvtoolu_1',
        content: [
          {
            type: 'web_search_result',
            title: 'Weather',
            url: 'https://example.com',
            encrypted_content: 'x',
            page_age: null,
          },
        ],
      }),
      toolUse({
        id: 'toolu_1',
        name: 'get_weather',
        input: { city: 'Paris', days: [1, 2, 3], unit: 'C' },
        chunkSize: 5,
      }),
      ...(options.more ?? []),
    ],
    {
      usage: { input_tokens: 42, cache_read_input_tokens: 7, output_tokens: 99 },
      ...(options.container ? { container: options.container } : {}),
    },
  );
}
