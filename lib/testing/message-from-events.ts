import type { FakeStreamEvent } from './fake-reply.js';

type Json = Record<string, unknown>;

/**
 * The message that a list of stream events builds, for answering a request made without `stream: true`.
 *
 * Internal to `claude-rx/testing`. It follows the SDK's accumulation (text, citations, tool input JSON, thinking,
 * signature, `message_delta` usage) on plain JSON, without the SDK's partial-JSON parsing: a cut tool input is kept
 * as `{}`, as the API would never send one in a complete message anyway.
 */
export function messageFromEvents(events: readonly FakeStreamEvent[]): Json | undefined {
  let message: Json | undefined;
  const content: Json[] = [];
  const toolJson = new Map<number, string>();
  for (const event of events as readonly Json[]) {
    const index = typeof event['index'] === 'number' ? event['index'] : -1;
    switch (event['type']) {
      case 'message_start':
        message = structuredClone(event['message'] as Json);
        break;
      case 'content_block_start':
        content[index] = structuredClone(event['content_block'] as Json);
        break;
      case 'content_block_delta': {
        const block = content[index];
        const delta = event['delta'] as Json;
        if (!block) break;
        if (delta['type'] === 'text_delta') block['text'] = str(block['text']) + str(delta['text']);
        if (delta['type'] === 'thinking_delta') {
          block['thinking'] = str(block['thinking']) + str(delta['thinking']);
        }
        if (delta['type'] === 'signature_delta') block['signature'] = delta['signature'];
        if (delta['type'] === 'citations_delta') {
          block['citations'] = [...((block['citations'] as unknown[] | null | undefined) ?? []), delta['citation']];
        }
        if (delta['type'] === 'input_json_delta') {
          toolJson.set(index, (toolJson.get(index) ?? '') + str(delta['partial_json']));
        }
        break;
      }
      case 'content_block_stop': {
        const json = toolJson.get(index);
        const block = content[index];
        if (block && json) block['input'] = parseOr(json, {});
        break;
      }
      case 'message_delta': {
        if (!message) break;
        const delta = (event['delta'] ?? {}) as Json;
        const usage = (event['usage'] ?? {}) as Json;
        message['stop_reason'] = delta['stop_reason'];
        message['stop_sequence'] = delta['stop_sequence'];
        if (delta['container'] != null) message['container'] = delta['container'];
        const total = { ...(message['usage'] as Json | undefined) };
        for (const [key, value] of Object.entries(usage)) if (value != null) total[key] = value;
        message['usage'] = total;
        break;
      }
      default:
        break;
    }
  }
  if (message) message['content'] = content.filter((block) => block !== undefined);
  return message;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function parseOr(json: string, fallback: unknown): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return fallback;
  }
}
