import type { EventSourceMessage } from 'eventsource-parser';
import type { Redis } from 'ioredis';
import { sleep } from '../../support/harness.js';

/** Events that end a stream of claude-rx's wire format. */
export const FINAL_EVENTS: ReadonlySet<string> = new Set(['done', 'error', 'stopped']);

/** A reply text of `words` numbered words ("w1 w2 w3 …"), so that a lost or doubled piece shows. */
export function wordsText(words: number): string {
  return Array.from({ length: words }, (_, index) => `w${index + 1}`).join(' ');
}

/** The stream id and position of an SSE id `<stream id>.<position>`; fails the test on anything else. */
export function idOf(event: EventSourceMessage): { streamId: string; position: number } {
  const match = /^([A-Za-z0-9_-]{22})\.(\d+)$/.exec(event.id ?? '');
  if (!match) throw new Error(`not a resumable event id: ${JSON.stringify(event.id)} (event ${event.event ?? '?'})`);
  return { streamId: match[1]!, position: Number(match[2]) };
}

export function positionsOf(events: readonly EventSourceMessage[]): number[] {
  return events.map((event) => idOf(event).position);
}

/** The text the `text_delta`s of these events carry, in order. */
export function textOf(events: readonly EventSourceMessage[]): string {
  let text = '';
  for (const event of events) {
    if (event.event !== 'content_block_delta') continue;
    const data = JSON.parse(event.data) as { delta?: { type?: string; text?: string } };
    if (data.delta?.type === 'text_delta') text += data.delta.text ?? '';
  }
  return text;
}

/** Positions from `from` to `to`, inclusive. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, index) => from + index);
}

/** Resolves once `condition()` holds; rejects, naming `what`, after `timeoutMs`. */
export async function waitUntil(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** `promise`, or a rejection naming `what` after `ms`. */
export async function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One key of Redis as the test sees it: its name, type, PTTL, and every string its value holds. */
export interface DumpedKey {
  readonly key: string;
  readonly type: string;
  readonly pttl: number;
  readonly strings: string[];
}

/**
 * Every key of the Redis (SCAN), with its PTTL and the strings its value is made of (read by type, not `DUMP`, whose
 * encoding may compress them). A key that expired between the SCAN and its reading is left out.
 */
export async function dumpRedis(redis: Redis): Promise<DumpedKey[]> {
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) keys.add(key);
  } while (cursor !== '0');
  const dumped: DumpedKey[] = [];
  for (const key of [...keys].sort()) {
    const type = await redis.type(key);
    const pttl = await redis.pttl(key);
    let strings: string[];
    switch (type) {
      case 'none':
        continue;
      case 'string':
        strings = [(await redis.get(key)) ?? ''];
        break;
      case 'hash':
        strings = Object.entries(await redis.hgetall(key)).flat();
        break;
      case 'zset':
        strings = await redis.zrange(key, 0, -1, 'WITHSCORES');
        break;
      case 'set':
        strings = await redis.smembers(key);
        break;
      case 'list':
        strings = await redis.lrange(key, 0, -1);
        break;
      case 'stream':
        strings = (await redis.xrange(key, '-', '+')).flatMap(([id, fields]) => [id, ...fields]);
        break;
      default:
        throw new Error(`key ${key} has a type the test does not read: ${type}`);
    }
    dumped.push({ key, type, pttl, strings });
  }
  return dumped;
}
