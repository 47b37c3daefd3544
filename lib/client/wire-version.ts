/**
 * The version of claude-rx's SSE wire format (`docs/sse-wire-format.md`) that this client reads and this server
 * writes. A change that an older client could not read gets a new version.
 *
 * @example
 * ```ts
 * import { SSE_WIRE_VERSION } from 'claude-rx/client';
 * console.log(`wire format v${SSE_WIRE_VERSION}`);
 * ```
 */
export const SSE_WIRE_VERSION = 1;
