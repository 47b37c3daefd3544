import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SSE_WIRE_VERSION } from 'claude-rx/client';
import { CLIENT_EVENT_NAMES } from '../../lib/client/client-events.js';
import { folderOf } from '../support/harness.js';

const doc = readFileSync(join(folderOf(import.meta.url), '../../docs/sse-wire-format.md'), 'utf8');

// docs/sse-wire-format.md is the contract between servers and clients: it must name what the code writes and reads.
describe('docs/sse-wire-format.md', () => {
  it('is the version the client reads', () => {
    expect(doc.split('\n')[0]).toBe(`# claude-rx's SSE wire format, version ${SSE_WIRE_VERSION}`);
  });

  it('lists every event name the client reads, and the three final events', () => {
    const table = doc.slice(doc.indexOf('## Event names'), doc.indexOf('## Ids and resuming'));
    const documented = [...table.matchAll(/^\| `([a-z_]+)`/gm)].map((match) => match[1]);
    expect(new Set(documented)).toEqual(new Set([...CLIENT_EVENT_NAMES, 'done', 'error', 'stopped']));
  });
});
