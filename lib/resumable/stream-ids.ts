import { randomBytes } from 'node:crypto';

/** 128 random bits in base64url: 22 characters, unguessable. */
const STREAM_ID = /^[A-Za-z0-9_-]{22}$/;
/** `<stream id>.<position>`, the position a decimal integer without leading zeros. */
const EVENT_ID = /^([A-Za-z0-9_-]{22})\.(0|[1-9][0-9]{0,14})$/;

/** Where an event id points: a stream and a position in it. */
export interface StreamPosition {
  readonly streamId: string;
  readonly position: number;
}

/**
 * A new stream id: 128 random bits from the system's CSPRNG, so that an id cannot be guessed from another.
 *
 * @example
 * ```ts
 * const id = newStreamId(); // 'q3Vx0d9Jb2kZ8mN4pR7sTw'
 * ```
 */
export function newStreamId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * The SSE id of the event at `position` of a stream: `<stream id>.<position>`.
 *
 * @example
 * ```ts
 * eventIdOf('q3Vx0d9Jb2kZ8mN4pR7sTw', 7); // 'q3Vx0d9Jb2kZ8mN4pR7sTw.7'
 * ```
 */
export function eventIdOf(streamId: string, position: number): string {
  return `${streamId}.${position}`;
}

/**
 * Reads an event id (`<stream id>.<position>`; position 0 is "before the first event").
 *
 * @returns The stream and position, or `undefined` when `id` is not an event id of claude-rx.
 *
 * @example
 * ```ts
 * parseEventId('q3Vx0d9Jb2kZ8mN4pR7sTw.7'); // { streamId: 'q3Vx0d9Jb2kZ8mN4pR7sTw', position: 7 }
 * ```
 */
export function parseEventId(id: unknown): StreamPosition | undefined {
  if (typeof id !== 'string') return undefined;
  const match = EVENT_ID.exec(id);
  return match ? { streamId: match[1]!, position: Number(match[2]) } : undefined;
}

/**
 * Reads a stream id, or an event id for its stream.
 *
 * @returns The stream id, or `undefined` when `id` is neither.
 *
 * @example
 * ```ts
 * streamIdOf('q3Vx0d9Jb2kZ8mN4pR7sTw.7'); // 'q3Vx0d9Jb2kZ8mN4pR7sTw'
 * ```
 */
export function streamIdOf(id: unknown): string | undefined {
  if (typeof id !== 'string') return undefined;
  return STREAM_ID.test(id) ? id : parseEventId(id)?.streamId;
}
