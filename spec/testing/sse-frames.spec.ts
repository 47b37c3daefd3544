import { sseFrame } from 'claude-rx/testing';

describe('sseFrame', () => {
  it('frames an object as compact JSON', () => {
    expect(sseFrame('message_stop', { type: 'message_stop' })).toBe(
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
  });

  it('keeps a string payload byte for byte', () => {
    expect(sseFrame('ping', '{"type": "ping"}')).toBe('event: ping\ndata: {"type": "ping"}\n\n');
  });

  it('escapes line breaks inside JSON strings, so one frame stays one data line', () => {
    expect(sseFrame('x', { text: 'a\nb' })).toBe('event: x\ndata: {"text":"a\\nb"}\n\n');
  });

  it('rejects what the API could not send', () => {
    expect(() => sseFrame('a\nb', {})).toThrow(TypeError);
    expect(() => sseFrame('x', 'line1\nline2')).toThrow(TypeError);
    expect(() => sseFrame('x', undefined)).toThrow(TypeError);
  });
});
