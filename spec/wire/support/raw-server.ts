import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a raw server saw of one request. */
export interface RawExchange {
  readonly body: string;
  /** Resolves when the connection closes; `abortedByClient` then says whether the client left before the end. */
  readonly closed: Promise<void>;
  readonly abortedByClient: boolean;
}

/**
 * A tiny `node:http` server that answers every request with `answer(res)`, for bytes (and writes) under the test's
 * exact control: the whole body in one write, held open, CRLF, odd spacing.
 */
export async function startRawServer(
  answer: (res: ServerResponse, req: IncomingMessage) => void,
): Promise<{ readonly url: string; readonly exchanges: RawExchange[]; close(): Promise<void> }> {
  const exchanges: RawExchange[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let resolveClosed!: () => void;
    const exchange = {
      body: '',
      abortedByClient: false,
      closed: new Promise<void>((resolve) => (resolveClosed = resolve)),
    };
    exchanges.push(exchange);
    res.on('close', () => {
      exchange.abortedByClient = !res.writableFinished;
      resolveClosed();
    });
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      exchange.body = Buffer.concat(chunks).toString('utf8');
      answer(res, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** SSE response headers, as the API sends them. */
export const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'request-id': 'req_raw' };
