import { TextPieces } from '../../lib/internal/text-pieces.js';

describe('TextPieces', () => {
  it('is empty, and takes the empty string, before any piece', () => {
    const text = new TextPieces();
    expect(text.empty).toBe(true);
    expect(text.take()).toBe('');
  });

  it.each([1, 255, 256, 257, 512, 1_000, 70_000])('gives back %i pieces joined in order', (count) => {
    const text = new TextPieces();
    const pieces = Array.from({ length: count }, (_, i) => `${i},`);
    for (const piece of pieces) text.push(piece);
    expect(text.empty).toBe(false);
    expect(text.take()).toBe(pieces.join(''));
  });

  it('forgets what it gave, and keeps what comes after', () => {
    const text = new TextPieces();
    for (let i = 0; i < 300; i++) text.push('a');
    expect(text.take()).toBe('a'.repeat(300));
    expect(text.empty).toBe(true);
    text.push('b');
    text.push('');
    text.push('c');
    expect(text.take()).toBe('bc');
  });
});
