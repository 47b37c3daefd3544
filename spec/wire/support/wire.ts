import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { folderOf } from '../../support/harness.js';

/** The recorded Messages API streams of spec/fixtures/recorded, by file name, byte-exact. */
export function recordedFixtures(): ReadonlyMap<string, Uint8Array> {
  const folder = join(folderOf(import.meta.url), '..', '..', 'fixtures', 'recorded');
  const files = readdirSync(folder).filter((name) => name.endsWith('.sse'));
  return new Map(files.sort().map((name) => [name, new Uint8Array(readFileSync(join(folder, name)))]));
}

/** A seeded PRNG (mulberry32): the same seed, the same numbers, so that a failure names the seed that found it. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max]. */
export function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** One of `items`. */
export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/**
 * `bytes` cut at random places: pieces of 0 to `maxPiece` bytes (empty ones included), so that cuts land anywhere,
 * inside a UTF-8 sequence, between `\r` and `\n`, just before a blank line. The pieces concatenate back to `bytes`.
 */
export function randomSplit(bytes: Uint8Array, random: () => number, maxPiece = 24): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    // Now and then a long piece, so that several messages come in one read, as on a real socket.
    const size = random() < 0.1 ? between(random, 0, bytes.length) : between(random, 0, maxPiece);
    pieces.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  if (random() < 0.3) pieces.push(new Uint8Array(0));
  return pieces;
}

/** A body that hands out exactly `pieces`, one per read. */
export function bodyOf(pieces: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const piece = pieces[next++];
      if (piece === undefined) controller.close();
      else controller.enqueue(piece.slice());
    },
  });
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** `text` with every line ending (`\n`) replaced by `ending`. */
export function withLineEndings(text: string, ending: '\n' | '\r\n' | '\r'): string {
  return text.replace(/\n/g, ending);
}

/**
 * `text` with some letters of every `data:` value made multi-byte (`é`: 2 bytes, `日`: 3, `🎉`: 4 and a surrogate
 * pair), so that random cuts fall inside UTF-8 sequences. The field names stay as they were.
 */
export function withMultiByteData(text: string): string {
  return text.replace(
    /^data:(.*)$/gm,
    (_, value: string) => `data:${value.replace(/e/g, 'é').replace(/a/g, '日').replace(/o/g, '🎉')}`,
  );
}
