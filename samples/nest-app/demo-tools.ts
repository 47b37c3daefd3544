import type Anthropic from '@anthropic-ai/sdk';

/** The outcome of one tool call, as it goes back to Claude in a `tool_result` block. */
export interface ToolOutcome {
  readonly content: string;
  readonly is_error: boolean;
}

/** The demo's one tool: made-up weather, so that the tool loop can be seen without any other service. */
export const WEATHER_TOOL: Anthropic.Messages.Tool = {
  name: 'get_weather',
  description: 'The current weather in a city: temperature in °C and sky. Demo data, not a real forecast.',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string', description: 'The city, e.g. "Paris"' } },
    required: ['city'],
  },
};

const SKIES = ['clear skies', 'a few clouds', 'light rain', 'overcast skies', 'sunny spells', 'a light breeze'];

/** The tools the demo offers Claude, and how it runs them. */
export const DEMO_TOOLS: readonly Anthropic.Messages.Tool[] = [WEATHER_TOOL];

/** Runs a tool call of Claude's; an unknown tool or a bad input is an error result, never an exception. */
export function runDemoTool(name: string, input: unknown): ToolOutcome {
  if (name !== WEATHER_TOOL.name) return { content: `Unknown tool "${name}".`, is_error: true };
  const city = (input as { city?: unknown } | null)?.city;
  if (typeof city !== 'string' || city.trim() === '') {
    return { content: 'get_weather needs a "city" string.', is_error: true };
  }
  // Made-up but stable: the same city always gets the same weather.
  let hash = 0;
  for (const char of city.trim().toLowerCase()) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  const celsius = 4 + (hash % 24);
  const sky = SKIES[hash % SKIES.length] ?? 'clear skies';
  return { content: JSON.stringify({ city: city.trim(), celsius, sky }), is_error: false };
}
