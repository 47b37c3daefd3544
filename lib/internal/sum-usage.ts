import type Anthropic from '@anthropic-ai/sdk';

type Usage = Anthropic.Messages.Usage;

/**
 * The usage of two messages together: counts added (nested ones too, such as `cache_creation` and
 * `server_tool_use`), a `null` count taken as none, and a descriptive field (`service_tier`, `inference_geo`,
 * `speed`) taken from the later message when it has one. Generic over the keys, so that a counter the API adds
 * later is summed as well. Neither argument is changed.
 */
export function sumUsage(earlier: Usage | undefined, later: Usage): Usage {
  return addFields((earlier ?? {}) as Fields, later as unknown as Fields) as unknown as Usage;
}

type Fields = Record<string, unknown>;

function addFields(earlier: Fields, later: Fields): Fields {
  const sum: Fields = { ...earlier };
  for (const key of Object.keys(later)) {
    const a = earlier[key];
    const b = later[key];
    if (typeof b === 'number') sum[key] = (typeof a === 'number' ? a : 0) + b;
    else if (isFields(b)) sum[key] = isFields(a) ? addFields(a, b) : { ...b };
    else if (b != null || !(key in earlier)) sum[key] = b;
  }
  return sum;
}

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
