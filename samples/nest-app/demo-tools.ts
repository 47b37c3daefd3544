import { defineTool, type RunnableTool } from 'claude-rx';

const SKIES = ['clear skies', 'a few clouds', 'light rain', 'overcast skies', 'sunny spells', 'a light breeze'];

/**
 * The demo's one tool: made-up weather, so that the tool loop can be seen without any other service. `runTools`
 * checks its input against the schema (a bad one becomes an error result Claude reads) and sends its JSON text back.
 */
export const WEATHER_TOOL = defineTool<{ city: string }>({
  name: 'get_weather',
  description: 'The current weather in a city: temperature in °C and sky. Demo data, not a real forecast.',
  inputSchema: {
    type: 'object',
    properties: { city: { type: 'string', description: 'The city, e.g. "Paris"', pattern: '\\S' } },
    required: ['city'],
  },
  run: ({ city }) => {
    // Made-up but stable: the same city always gets the same weather.
    const name = city.trim();
    let hash = 0;
    for (const char of name.toLowerCase()) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    const celsius = 4 + (hash % 24);
    const sky = SKIES[hash % SKIES.length] ?? 'clear skies';
    return JSON.stringify({ city: name, celsius, sky });
  },
});

/** The tools the demo offers Claude; `runTools` runs them when Claude calls them. */
export const DEMO_TOOLS: readonly RunnableTool[] = [WEATHER_TOOL];
