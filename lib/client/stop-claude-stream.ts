/**
 * Asks the server to stop a stream (a route that calls `ClaudeStreamService.stop()`): it POSTs `{ "id": … }` as JSON,
 * and resolves with the `stopped` of the answer (`{ "stopped": true }` when the stream was live). The stream's readers
 * then end with a `stopped` event; the upstream request is aborted at once, where closing the tab would wait for the
 * grace. The id goes in the body, never in the URL.
 *
 * @param url The stop route.
 * @param id The stream's id (`onStreamId` of `claudeSse`) or any of its event ids.
 * @param init `headers`, `credentials`, `fetch`.
 * @returns Whether the stream was stopped.
 * @throws Error when the server answers with an HTTP error.
 *
 * @example
 * ```ts
 * import { stopClaudeStream } from 'claude-rx/client';
 * stopButton.onclick = () => void stopClaudeStream('/chat/stop', streamId);
 * ```
 */
export async function stopClaudeStream(
  url: string,
  id: string,
  init: {
    readonly headers?: Readonly<Record<string, string>>;
    readonly credentials?: RequestCredentials;
    readonly fetch?: typeof fetch;
  } = {},
): Promise<boolean> {
  const fetchImpl = init.fetch ?? globalThis.fetch.bind(globalThis);
  const response = await fetchImpl(url, {
    method: 'POST',
    credentials: init.credentials ?? 'same-origin',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify({ id }),
  });
  if (!response.ok) throw new Error(`stopClaudeStream: the server answered ${response.status}`);
  const body = (await response.json()) as { stopped?: unknown };
  return body.stopped === true;
}
