import { copierFor } from '../../lib/internal/shape-copier.js';

describe('copierFor', () => {
  it.each([
    { type: 'text', text: 'Hi' },
    { type: 'text', text: 'Hi', citations: null },
    { type: 'thinking', thinking: 'Hm' },
    { type: 'thinking', thinking: 'Hm', signature: 'sig' },
    { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} },
    {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'm',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {},
    },
    {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'm',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      container: null,
      usage: {},
    },
  ])('copies %j into a new object with the same keys, in order, and the same values', (source) => {
    const copy = copierFor(source)(source);
    expect(copy).not.toBe(source);
    expect(Object.keys(copy)).toEqual(Object.keys(source));
    for (const key of Object.keys(source)) expect(copy[key]).toBe((source as Record<string, unknown>)[key]);
  });

  it('copies any other shape whole: keys in another order, an extra key, a key fewer', () => {
    for (const source of [
      { text: 'Hi', type: 'text' },
      { type: 'text', text: 'Hi', glow: 1 },
      { type: 'thinking', signature: 'sig' },
      { a: 1 },
      {},
    ]) {
      const copy = copierFor(source)(source);
      expect(copy).not.toBe(source);
      expect(Object.entries(copy)).toEqual(Object.entries(source));
    }
  });

  it("keeps a `__proto__` key from JSON an own property, never the copy's prototype", () => {
    const source = JSON.parse('{"type":"text","__proto__":{"polluted":true}}') as Record<string, unknown>;
    const copy = copierFor(source)(source);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['type', '__proto__']);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
