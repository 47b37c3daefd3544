import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A random identifier shaped like the API's (`msg_01...`, `toolu_01...`, `req_011...`).
 *
 * Internal to `claude-rx/testing`; the `01`/`011` prefixes mimic the API's versioned ids.
 */
export function fakeId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let id = '';
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length] ?? 'A';
  return `${prefix}${id}`;
}

/** A fresh `request-id` value, unique per response. */
export function fakeRequestId(): string {
  return fakeId('req_011');
}
