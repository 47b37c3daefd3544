// Child process: many SSE clients (browsers, as far as the server can tell) on 127.0.0.1, one connection each.
//
// argv[2] is JSON: { port, clients, model, rampMs, idle }.
// - paced: every client streams `model` to the end; the starts are spread evenly over `rampMs`. For each delta, the
//   latency is now minus the send time the upstream stamped into its text (both clocks are this machine's).
//   Reports { type: 'done', streams, failed, events, latency: { p50, p99, max } }.
// - idle: every client opens a stream and waits for its first events; then reports { type: 'open' } and holds the
//   streams open until the parent says `close`, and reports { type: 'done' }.
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { quantile } from './stats.mjs';

const { port, clients, model, rampMs = 0, idle = false } = JSON.parse(process.argv[2]);
const STAMP = '"text":"';
const STAMP_LENGTH = 17;
const FIRST_EVENTS = 3; // message_start, content_block_start, the first delta

const send = (message) => new Promise((resolve) => process.send(message, resolve));
const latencies = [];
const open = new Set();
let events = 0;
let failed = 0;
let reported = false;

function stream() {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: `/chat/stream?model=${encodeURIComponent(model)}`,
      agent: false,
    });
    let seen = 0;
    let rest = '';
    const fail = () => {
      failed++;
      open.delete(req);
      resolve(false);
    };
    req.on('error', () => (reported ? resolve(false) : fail()));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail();
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const now = performance.timeOrigin + performance.now();
        const buffer = rest + chunk;
        let start = 0;
        let end;
        while ((end = buffer.indexOf('\n\n', start)) >= 0) {
          const frame = buffer.slice(start, end);
          start = end + 2;
          // A heartbeat is a comment: not an event.
          if (!frame.includes('data:')) continue;
          events++;
          seen++;
          const at = frame.indexOf(STAMP);
          if (at >= 0 && frame.includes('text_delta')) {
            const sent = Number(frame.slice(at + STAMP.length, at + STAMP.length + STAMP_LENGTH));
            if (Number.isFinite(sent)) latencies.push(now - sent);
          }
          if (idle && seen === FIRST_EVENTS) resolve(true);
        }
        rest = buffer.slice(start);
      });
      res.on('end', () => {
        open.delete(req);
        resolve(!idle);
        if (idle && seen < FIRST_EVENTS) failed++;
      });
      res.on('error', () => {});
    });
    open.add(req);
    req.end();
  });
}

const started = [];
for (let i = 0; i < clients; i++) {
  if (rampMs > 0 && i > 0) await new Promise((resolve) => setTimeout(resolve, rampMs / clients));
  started.push(stream());
}
const results = await Promise.all(started);

if (idle) {
  process.send({ type: 'open', streams: results.filter(Boolean).length, failed });
  await new Promise((resolve) => process.on('message', (message) => message?.type === 'close' && resolve()));
  reported = true;
  for (const req of open) req.destroy();
  await send({ type: 'done', streams: results.filter(Boolean).length, failed });
} else {
  await send({
    type: 'done',
    streams: results.filter(Boolean).length,
    failed,
    events,
    latency: {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: quantile(latencies, 1),
      n: latencies.length,
    },
  });
}
process.exit(0);
