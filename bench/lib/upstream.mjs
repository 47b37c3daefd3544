// The upstream: claude-rx's fake Claude server, alone in this child process so that its CPU is never the consumer's.
//
// The reply is chosen by the request's `model`, which every client library passes through untouched:
//   bench:text:<deltas>                       text only, 4-character deltas
//   bench:text:<deltas>:w64                   the same, written in 64 KiB slices (below)
//   bench:thinking:<deltas>                   a thinking block then a text block, <deltas> 4-character deltas each
//   bench:tool:<bytes>                        one tool_use block whose input JSON is <bytes> long, in 16-byte deltas
//   bench:paced:<deltas>:<delayMs>            text, one delta every <delayMs>, each delta's text stamped when written
//   bench:idle                                a started text block, then silence until the client leaves
//
// Three ways of writing, set by a shim on ServerResponse.prototype.write (below):
// - bulk (every reply but paced, idle and w64 ones): the answer goes out in 256 KB batches, the client reads full
//   buffers (16 KiB per read, as fetch hands them over);
// - w64: the answer goes out as one 64 KiB Buffer per write, as a server writing a prepared body in slices does; the
//   client then reads up to 64 KiB at a time (about 70 reads for the text case, most of 64 KiB, where bulk gives 155
//   of 16 KiB: the SDK's per-read cost weighs less);
// - paced: each delta's text is a placeholder that the shim overwrites, in the bytes about to go to the socket, with
//   this machine's clock (ms since the epoch, performance-based), so that a client in another process can tell how
//   long the event took to reach it through the server under test.
import { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { dist } from './paths.mjs';

const { FakeClaudeServer, streamReply, messageEvents, text, thinking, toolUse } = await import(
  dist('lib/testing/index.js')
);

const STAMP_PLACEHOLDER = '#'.repeat(17);
const PLACEHOLDER_BYTES = Buffer.from(STAMP_PLACEHOLDER);

const BULK_BATCH_BYTES = 256 * 1024;
const SLICE_BYTES = 64 * 1024;
const LIVE_MODELS = [Buffer.from('"model":"bench:paced:'), Buffer.from('"model":"bench:idle"')];
const SLICED_MODEL = Buffer.from(':w64"');
const originalWrite = ServerResponse.prototype.write;
const originalEnd = ServerResponse.prototype.end;
ServerResponse.prototype.write = function benchWrite(chunk, encoding, callback) {
  if (typeof encoding === 'function') [callback, encoding] = [encoding, undefined];
  // serve-reply writes one fresh Buffer per frame and waits for its callback before the next; the first frame,
  // message_start, names the model, and so the way of writing.
  if (!Buffer.isBuffer(chunk)) return originalWrite.call(this, chunk, encoding, callback);
  this.benchSliced ??= chunk.includes(SLICED_MODEL);
  if (this.benchSliced) {
    // Held, reported written at once, and let go one 64 KiB Buffer at a time; the rest goes with `end()`.
    (this.benchParts ??= []).push(chunk);
    this.benchPartBytes = (this.benchPartBytes ?? 0) + chunk.length;
    let ok = true;
    if (this.benchPartBytes >= SLICE_BYTES) {
      const held = Buffer.concat(this.benchParts);
      let at = 0;
      for (; held.length - at >= SLICE_BYTES; at += SLICE_BYTES)
        ok = originalWrite.call(this, held.subarray(at, at + SLICE_BYTES));
      this.benchParts = [held.subarray(at)];
      this.benchPartBytes = held.length - at;
    }
    if (callback) process.nextTick(callback, null);
    return ok;
  }
  this.benchLive ??= LIVE_MODELS.some((model) => chunk.includes(model));
  if (this.benchLive) {
    // Paced: stamped in place with the time it goes to the socket, then written as the fake server does.
    const at = chunk.indexOf(PLACEHOLDER_BYTES);
    if (at >= 0) chunk.write((performance.timeOrigin + performance.now()).toFixed(3).padStart(17, '0'), at, 'latin1');
    return originalWrite.call(this, chunk, callback);
  }
  // Bulk: held back (the response is corked) and reported written at once, then let go 256 KB at a time, so that
  // the client always finds full socket buffers to read. Written frame by frame as the fake server does, how many
  // frames each read returns would depend on the race between the two processes, and so would the client's
  // per-read cost (±20% run to run).
  if (this.benchHeld === undefined) {
    this.benchHeld = 0;
    this.cork();
  }
  const ok = originalWrite.call(this, chunk);
  this.benchHeld += chunk.length;
  if (this.benchHeld >= BULK_BATCH_BYTES) {
    this.benchHeld = 0;
    this.uncork();
    this.cork();
  }
  if (callback) process.nextTick(callback, null);
  return ok;
};

ServerResponse.prototype.end = function benchEnd(...args) {
  if (this.benchParts?.length) {
    const rest = Buffer.concat(this.benchParts);
    this.benchParts = undefined;
    if (rest.length > 0) originalWrite.call(this, rest);
  }
  return originalEnd.apply(this, args);
};

/** The JSON input of the tool case: `{"path": ..., "content": "<~bytes of text>"}`, a file write, `bytes` long. */
function toolInputOf(bytes) {
  const head = { path: 'data/big.txt', content: '' };
  const room = bytes - JSON.stringify(head).length;
  const line = 'the quick brown fox jumps over the lazy dog 0123456789 ';
  const content = line.repeat(Math.ceil(room / line.length)).slice(0, room);
  return { path: head.path, content };
}

const replies = new Map();

function replyFor(model) {
  const known = replies.get(model);
  if (known) return known;
  const [, kind, a, b] = String(model).split(':');
  // The model is echoed in message_start, as the API does; the write shim reads it there.
  const options = { model };
  let reply;
  switch (kind) {
    case 'text':
      reply = streamReply(messageEvents([text('abcd'.repeat(Number(a)), { chunkSize: 4 })], options));
      break;
    case 'thinking':
      reply = streamReply(
        messageEvents(
          [
            thinking('thnk'.repeat(Number(a)), 'sig'.repeat(100), { chunkSize: 4 }),
            text('abcd'.repeat(Number(a)), { chunkSize: 4 }),
          ],
          options,
        ),
      );
      break;
    case 'tool':
      reply = streamReply(
        messageEvents([toolUse({ name: 'write_file', input: toolInputOf(Number(a)), chunkSize: 16 })], {
          ...options,
          stopReason: 'tool_use',
        }),
      );
      break;
    case 'paced':
      reply = streamReply(
        messageEvents([text(STAMP_PLACEHOLDER.repeat(Number(a)), { chunkSize: STAMP_PLACEHOLDER.length })], options),
        { delayMs: Number(b) },
      );
      break;
    case 'idle':
      // message_start, content_block_start and one delta, then nothing: an open, idle stream.
      reply = streamReply(messageEvents([text('hello', { chunkSize: 5 })], options), { stallAfter: 3 });
      break;
    default:
      throw new Error(`bench upstream: unknown model ${JSON.stringify(model)}`);
  }
  replies.set(model, reply);
  return reply;
}

const responder = (request) => replyFor(request.body?.model);
const server = await FakeClaudeServer.start();
server.respondWith(responder);
// The server records every request for tests to inspect; nothing here does, so the records are dropped now and then.
setInterval(() => {
  server.reset();
  server.respondWith(responder);
}, 2000).unref();

process.on('message', (message) => {
  if (message?.type === 'close') void server.close().then(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', url: server.url });
