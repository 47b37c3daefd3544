import { metrics, trace } from '@opentelemetry/api';
import { claudeStream, defineTool, runTools, textOnly } from 'claude-rx';
import { errorReply, streamReply, textMessage, toolUseMessage } from 'claude-rx/testing';
import { collect, errorOf, PARAMS, trackUnhandledRejections, useFakeClaude } from '../support/harness.js';
import { installMeterProvider, type InstalledMeterProvider } from './support/otel.js';

// An app without OpenTelemetry providers, and one that registers its meter provider only after claude-rx has run:
// the instruments are looked up per request, so the first request after the registration is recorded.

const fake = useFakeClaude();
const rejections = trackUnhandledRejections();
afterEach(() => expect(rejections).toEqual([]));

const DURATION = 'gen_ai.client.operation.duration';

const now = defineTool({ name: 'now', inputSchema: { type: 'object' }, run: () => 'noon' });

let installed: InstalledMeterProvider | undefined;
afterEach(async () => {
  await installed?.uninstall();
  installed = undefined;
});

describe('without any provider registered', () => {
  it('claudeStream, its errors and runTools work as without OpenTelemetry', async () => {
    expect(metrics.getMeterProvider().getMeter('probe').constructor.name).toMatch(/Noop/);
    expect(trace.getTracerProvider().getTracer('probe').startSpan('probe').isRecording()).toBe(false);

    fake.server.enqueue(
      streamReply(textMessage('No telemetry here')),
      errorReply(529),
      streamReply(toolUseMessage('now', {})),
      streamReply(textMessage('It is noon.')),
    );
    expect((await collect(claudeStream(fake.client, PARAMS).pipe(textOnly()))).join('')).toBe('No telemetry here');
    expect(await errorOf(claudeStream(fake.client, PARAMS))).toMatchObject({ status: 529 });
    const events = await collect(runTools(fake.client, PARAMS, { tools: [now] }));
    expect(events.at(-1)).toMatchObject({ type: 'turn_end', turn: 2 });
    expect(fake.server.requests).toHaveLength(4);
  });
});

describe('a meter provider registered later', () => {
  it('records the requests after its registration, not the ones before', async () => {
    fake.server.enqueue(streamReply(textMessage('Before')), streamReply(textMessage('After')));
    await collect(claudeStream(fake.client, PARAMS));

    installed = await installMeterProvider();
    expect((await installed.collect()).names).toEqual([]);
    await collect(claudeStream(fake.client, PARAMS));
    const measured = await installed.collect();
    expect(measured.count(DURATION)).toBe(1);
    expect(measured.count('gen_ai.client.token.usage')).toBe(2);
  });

  it('an Observable made before the registration is recorded when subscribed after it', async () => {
    fake.server.enqueue(streamReply(textMessage('Made early')));
    const early$ = claudeStream(fake.client, PARAMS);
    installed = await installMeterProvider();
    await collect(early$);
    expect((await installed.collect()).count(DURATION)).toBe(1);
  });

  it('another provider registered after the first is disabled gets the next requests', async () => {
    fake.server.enqueue(
      streamReply(textMessage('One')),
      streamReply(textMessage('Gap')),
      streamReply(textMessage('Two')),
    );
    const firstProvider = await installMeterProvider();
    await collect(claudeStream(fake.client, PARAMS));
    expect((await firstProvider.collect()).count(DURATION)).toBe(1);
    await firstProvider.uninstall();

    // No provider again: nothing breaks.
    await collect(claudeStream(fake.client, PARAMS));

    installed = await installMeterProvider();
    await collect(claudeStream(fake.client, PARAMS));
    expect((await installed.collect()).count(DURATION)).toBe(1);
  });
});
