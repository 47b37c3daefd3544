/**
 * The demo page's script (browser code): it streams `POST /api/chat` with `claude-rx/client` and renders the events.
 * `npm run build` bundles it with esbuild, rxjs included, into `dist/samples/nest-app/page.js`, which `index.html`
 * loads. `npm run typecheck` checks it (tsconfig.json has the DOM types); tsconfig.samples.json, which compiles the
 * server's files for Node, leaves it out.
 *
 * One request, one Observable of typed events, shared by four views: the events themselves (blocks, tool calls,
 * markers), `thinkingOnly()`, `textOnly()` and `tokenUsage()`. A dropped connection is resumed by the client with
 * `Last-Event-ID` (the page says "reconnecting…" meanwhile) and no event is shown twice; Stop asks the server to stop
 * the stream (`stopClaudeStream`), which aborts the upstream request at once.
 */
import {
  claudeSse,
  ClaudeSseConnectionError,
  ClaudeSseError,
  ClaudeSseHttpError,
  stopClaudeStream,
  textOnly,
  thinkingOnly,
  tokenUsage,
  type ClaudeClientEvent,
  type SseStoppedData,
} from 'claude-rx/client';
import { merge, share, tap, type Subscription } from 'rxjs';

/** An element of `index.html`. */
function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

const form = byId<HTMLFormElement>('ask');
const promptBox = byId<HTMLTextAreaElement>('prompt');
const modelSelect = byId<HTMLSelectElement>('model');
const sendButton = byId<HTMLButtonElement>('send');
const stopButton = byId<HTMLButtonElement>('stop');
const statusLine = byId('status');
const errorBox = byId('error');
const thinkingPanel = byId('thinking-panel');
const thinkingText = byId('thinking');
const toolsPanel = byId('tools');
const answer = byId('answer');

/** What `/api/info` says. */
interface Info {
  readonly mode: 'fake' | 'api';
  readonly model: string;
  readonly models: readonly string[];
}

fetch('/api/info')
  .then((response) => response.json() as Promise<Info>)
  .then((info) => {
    byId('mode').textContent =
      info.mode === 'fake'
        ? `Offline: answers come from the built-in fake Claude server (model ${info.model}).`
        : `Connected to the Claude API (model ${info.model}).`;
    modelSelect.replaceChildren(
      ...info.models.map((model) => new Option(model, model, model === info.model, model === info.model)),
    );
    modelSelect.disabled = false;
  })
  .catch(() => (byId('mode').textContent = ''));

for (const chip of document.querySelectorAll<HTMLButtonElement>('.chip')) {
  chip.addEventListener('click', () => {
    promptBox.value = chip.dataset['prompt'] ?? '';
    promptBox.focus();
  });
}

/** The states of `#status[data-state]`: the browser test reads them. */
type State = 'idle' | 'waiting' | 'streaming' | 'reconnecting' | 'done' | 'stopped' | 'error';

function setStatus(state: State, text: string): void {
  statusLine.dataset['state'] = state;
  statusLine.textContent = text;
}

function showError(text: string): void {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

// --- Token usage: what `tokenUsage()` adds up over every turn of the run (a retried attempt's tokens included). ---

interface Usage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_read_input_tokens?: number | null;
  readonly cache_creation_input_tokens?: number | null;
}

const NO_USAGE: Usage = { input_tokens: 0, output_tokens: 0 };
let usage = NO_USAGE;

function renderUsage(final: boolean): void {
  byId('usage-input').textContent = String(usage.input_tokens);
  byId('usage-output').textContent = String(usage.output_tokens);
  byId('usage-cache-read').textContent = String(usage.cache_read_input_tokens ?? 0);
  byId('usage-cache-write').textContent = String(usage.cache_creation_input_tokens ?? 0);
  byId('usage-title').textContent = final ? 'Token usage (final)' : 'Token usage (live)';
  byId('usage').dataset['final'] = String(final);
}

// --- Content blocks and tool calls: a turn's block indexes start over at each message_start. ---

interface ToolCard {
  readonly input: HTMLElement;
  readonly result: HTMLElement;
}

/** The tool_use id of each tool_use block of the current turn, by index. */
let toolBlocks = new Map<number, string>();
/** Every tool call's card, by tool_use id. */
let toolCards = new Map<string, ToolCard>();

function toolCard(id: string, name: string): void {
  toolsPanel.hidden = false;
  const card = document.createElement('div');
  card.className = 'tool';
  card.dataset['toolUseId'] = id;
  const title = document.createElement('div');
  const label = document.createElement('span');
  label.className = 'label';
  label.textContent = 'Calling';
  const toolName = document.createElement('b');
  toolName.textContent = name;
  title.append(label, ' ', toolName);
  const input = document.createElement('pre');
  input.className = 'tool-input';
  const resultLabel = document.createElement('div');
  resultLabel.className = 'label';
  resultLabel.textContent = 'Result';
  const result = document.createElement('pre');
  result.className = 'tool-result';
  card.append(title, input, resultLabel, result);
  toolsPanel.append(card);
  toolCards.set(id, { input, result });
}

/**
 * The page's structure from the events: separators between turns, the thinking panel, the tool cards and their
 * streamed input and result. The text and the thinking themselves come from `textOnly()` and `thinkingOnly()`, which
 * are told each event after this.
 */
function onEvent(event: ClaudeClientEvent): void {
  if (statusLine.dataset['state'] === 'waiting') setStatus('streaming', 'Claude is answering…');
  switch (event.type) {
    case 'message_start':
      toolBlocks = new Map();
      if (answer.textContent) answer.append('\n\n');
      break;
    case 'content_block_start': {
      const block = event.content_block;
      if (block.type === 'thinking') {
        thinkingPanel.hidden = false;
        if (thinkingText.textContent) thinkingText.append('\n\n');
      } else if (block.type === 'tool_use') {
        toolBlocks.set(event.index, block.id);
        toolCard(block.id, block.name);
      }
      break;
    }
    case 'content_block_delta': {
      const card = toolCards.get(toolBlocks.get(event.index) ?? '');
      if (card && event.delta.type === 'input_json_delta') card.input.textContent += event.delta.partial_json;
      break;
    }
    case 'content_block_stop': {
      const card = toolCards.get(toolBlocks.get(event.index) ?? '');
      if (card) {
        try {
          card.input.textContent = JSON.stringify(JSON.parse(card.input.textContent || '{}'));
        } catch {
          // keep the raw text
        }
        card.result.textContent = 'running…';
      }
      break;
    }
    case 'tool_result': {
      // { tool_use_id, name, input, content, is_error }: the card was made from the tool_use block.
      const card = toolCards.get(event.tool_use_id);
      if (card) {
        card.result.textContent = typeof event.content === 'string' ? event.content : JSON.stringify(event.content);
        card.result.classList.toggle('is-error', event.is_error);
      }
      break;
    }
    case 'stream_restart':
      // A retry after an overload mid-answer: the answer starts again.
      answer.textContent = '';
      thinkingText.textContent = '';
      break;
    case 'message_delta':
    case 'message_stop':
    case 'turn_start':
    case 'turn_end':
      // Usage is `tokenUsage()`'s; runTools' turn markers say nothing that message_start and message_stop do not.
      break;
    default:
      event satisfies never;
  }
}

// --- Errors, in words. ---

const STREAM_ERRORS: Readonly<Record<string, string>> = {
  overloaded_error: 'Claude became overloaded while answering, so the answer stops here. Please try again in a minute.',
  rate_limit_error: 'Claude is receiving too many requests right now. Please wait a moment and try again.',
  timeout_error: 'Claude stopped answering for too long, so the answer stops here. Please try again.',
  incomplete_stream_error: 'The answer was cut off before the end. Please try again.',
  server_shutdown: 'The demo server is shutting down. Please try again in a moment.',
  stream_lost: 'The demo server lost this answer before its end. Please try again.',
  upstream_error: 'Something went wrong while talking to Claude. Please try again.',
};
const UPSTREAM_ERROR = 'Something went wrong while talking to Claude. Please try again.';

/** An HTTP error answer to the chat request, in words. */
function httpError({ status, type, message }: ClaudeSseHttpError): string {
  if (status === 400) return `Please check your request: ${message}.`;
  if (status === 413) return 'Your prompt is too large. Please shorten it.';
  if (status === 429) return STREAM_ERRORS['rate_limit_error'] ?? UPSTREAM_ERROR;
  if (status === 503 && type === 'overloaded_error')
    return 'Claude is overloaded right now. Please try again in a minute.';
  if (status === 503) return STREAM_ERRORS['server_shutdown'] ?? UPSTREAM_ERROR;
  if (status === 504) return 'Claude did not answer in time. Please try again.';
  return `Something went wrong while talking to Claude (HTTP ${status}). Please try again.`;
}

/** How a chat failed, in words; `streamed`: some of the answer had come. */
function describeError(error: unknown, streamed: boolean): string {
  if (error instanceof ClaudeSseError) return STREAM_ERRORS[error.type] ?? UPSTREAM_ERROR;
  if (error instanceof ClaudeSseHttpError) {
    // A reconnect refused: the server no longer has the stream (restarted, or the wait outlasted its grace).
    if (streamed) return 'The connection was lost, and the demo server no longer has this answer. Please try again.';
    return httpError(error);
  }
  if (error instanceof ClaudeSseConnectionError) {
    return streamed
      ? 'The connection to the demo server was lost before the answer ended, and reconnecting failed.'
      : "Can't reach the demo server. Is it still running?";
  }
  return 'Something went wrong on this page. Please reload it.';
}

// --- A chat: one request, its views, its end. ---

/** The chat in progress. */
let running: { readonly subscription: Subscription; streamId: string | undefined } | null = null;

function reset(): void {
  errorBox.hidden = true;
  errorBox.textContent = '';
  thinkingPanel.hidden = true;
  thinkingText.textContent = '';
  toolsPanel.hidden = true;
  toolsPanel.querySelectorAll('.tool').forEach((card) => card.remove());
  answer.textContent = '';
  toolBlocks = new Map();
  toolCards = new Map();
  usage = NO_USAGE;
  renderUsage(false);
}

/** Ends the chat in progress, its request included, and says how it ended. */
function finish(outcome: 'done' | 'stopped' | 'error', text = ''): void {
  running?.subscription.unsubscribe();
  running = null;
  sendButton.disabled = false;
  stopButton.disabled = true;
  renderUsage(true);
  if (outcome === 'done') setStatus('done', 'Done.');
  else if (outcome === 'stopped') setStatus('stopped', text || 'Stopped. The request to Claude was cancelled.');
  else setStatus('error', '');
}

function send(prompt: string): void {
  reset();
  sendButton.disabled = true;
  stopButton.disabled = false;
  setStatus('waiting', 'Waiting for Claude…');
  let streamed = false;
  let stopped: SseStoppedData['reason'] | undefined;
  const model = modelSelect.value;

  const events$ = claudeSse('/api/chat', {
    body: { prompt, ...(model && { model }) },
    // The same request again, with Last-Event-ID, after a dropped connection: the server answers it as a resume.
    onReconnecting: ({ attempt }) =>
      attempt > 0
        ? setStatus('reconnecting', 'Connection lost: reconnecting…')
        : setStatus('streaming', 'Claude is answering…'),
    onStreamId: (id) => {
      if (running) running.streamId = id;
    },
    onStopped: (reason) => (stopped = reason),
  }).pipe(
    tap(() => (streamed = true)),
    // One request for the four views below; each gets every event, in the order they subscribed.
    share(),
  );

  const subscription = merge(
    events$.pipe(tap(onEvent)),
    events$.pipe(
      thinkingOnly(),
      tap((text) => thinkingText.append(text)),
    ),
    events$.pipe(
      textOnly(),
      tap((text) => answer.append(text)),
    ),
    events$.pipe(
      tokenUsage(),
      tap((total) => {
        usage = total;
        renderUsage(false);
      }),
    ),
  ).subscribe({
    complete: () =>
      stopped === undefined
        ? finish('done')
        : finish('stopped', stopped === 'stop' ? 'Stopped.' : 'Stopped: no reader was left.'),
    error: (error: unknown) => {
      showError(describeError(error, streamed));
      finish('error');
    },
  });
  running = { subscription, streamId: undefined };
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!running) send(promptBox.value);
});

stopButton.addEventListener('click', () => {
  if (!running) return;
  const { streamId } = running;
  // Before the first event there is no stream id yet: leaving is enough, the server aborts a request whose client
  // left during its set-up. After it, a dropped connection would leave the answer running for its grace: stop it.
  if (streamId !== undefined) {
    stopClaudeStream('/api/chat/stop', streamId).catch(() => {
      if (statusLine.dataset['state'] === 'stopped') {
        setStatus('stopped', 'Stopped here, but the server could not be told: Claude may go on for a few seconds.');
      }
    });
  }
  finish('stopped');
});
