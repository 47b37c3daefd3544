import 'reflect-metadata';
import Anthropic from '@anthropic-ai/sdk';
import { Inject, Injectable, Module, type DynamicModule, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { lastValueFrom, toArray } from 'rxjs';
import {
  CLAUDE_STREAM_CLIENT,
  CLAUDE_STREAM_MODULE_OPTIONS,
  ClaudeStreamModule,
  ClaudeStreamService,
  type ClaudeStreamModuleOptions,
  type ClaudeStreamOptionsFactory,
} from 'claude-rx/nest';
import { FakeClaudeServer, streamReply, textMessage } from 'claude-rx/testing';
import { API_KEY, MODEL } from './support/fixtures.js';

let server: FakeClaudeServer;
beforeAll(async () => {
  server = await FakeClaudeServer.start();
  server.respondWith(() => streamReply(textMessage('Hi from the module')));
});
afterAll(() => server.close());

const OPTIONS: ClaudeStreamModuleOptions = {
  apiKey: API_KEY,
  baseURL: 'http://127.0.0.1:1', // replaced per test by the fake server's URL
  clientOptions: { maxRetries: 0 },
  defaults: { model: MODEL, max_tokens: 99 },
};

function options(): ClaudeStreamModuleOptions {
  return { ...OPTIONS, baseURL: server.url };
}

async function compile(...imports: (Type | DynamicModule)[]) {
  return Test.createTestingModule({ imports }).compile();
}

/** The credential the last request carried (the SDK sends the API key as a bearer token). */
function lastCredential(): string | undefined {
  return server.lastRequest?.headers['authorization']?.replace(/^Bearer /, '');
}

/** Makes one call through the service and returns the body the API received. */
async function bodySentBy(service: ClaudeStreamService): Promise<Record<string, unknown> | undefined> {
  const text = await lastValueFrom(service.text({ messages: [{ role: 'user', content: 'hello' }] }).pipe(toArray()));
  expect(text.join('')).toBe('Hi from the module');
  return server.lastRequest?.body;
}

describe('ClaudeStreamModule.forRoot', () => {
  it('provides the service, with a client built from apiKey and baseURL, and the defaults merged under each call', async () => {
    const moduleRef = await compile(ClaudeStreamModule.forRoot(options()));
    const service = moduleRef.get(ClaudeStreamService);

    expect(service.client).toBeInstanceOf(Anthropic);
    expect(moduleRef.get(CLAUDE_STREAM_CLIENT)).toBe(service.client);
    expect(await bodySentBy(service)).toMatchObject({ model: MODEL, max_tokens: 99, stream: true });
    expect(lastCredential()).toBe(API_KEY);
    await moduleRef.close();
  });

  it('uses the client it is given', async () => {
    const client = new Anthropic({ apiKey: 'given', baseURL: server.url, maxRetries: 0 });
    const moduleRef = await compile(ClaudeStreamModule.forRoot({ client, defaults: { model: MODEL, max_tokens: 5 } }));

    expect(moduleRef.get(ClaudeStreamService).client).toBe(client);
    await bodySentBy(moduleRef.get(ClaudeStreamService));
    expect(lastCredential()).toBe('given');
    await moduleRef.close();
  });

  it('lets tests swap the client through CLAUDE_STREAM_CLIENT', async () => {
    const swapped = new Anthropic({ apiKey: 'swapped', baseURL: server.url, maxRetries: 0 });
    const moduleRef = await Test.createTestingModule({
      imports: [ClaudeStreamModule.forRoot({ ...OPTIONS, baseURL: 'https://unreachable.invalid' })],
    })
      .overrideProvider(CLAUDE_STREAM_CLIENT)
      .useValue(swapped)
      .compile();

    expect(moduleRef.get(ClaudeStreamService).client).toBe(swapped);
    await bodySentBy(moduleRef.get(ClaudeStreamService));
    expect(lastCredential()).toBe('swapped');
    await moduleRef.close();
  });

  it('exposes the options under CLAUDE_STREAM_MODULE_OPTIONS, without isGlobal', async () => {
    const moduleRef = await compile(ClaudeStreamModule.forRoot({ ...options(), isGlobal: true }));

    expect(moduleRef.get(CLAUDE_STREAM_MODULE_OPTIONS)).toEqual(options());
    await moduleRef.close();
  });
});

describe('ClaudeStreamModule.forRootAsync', () => {
  const URL_TOKEN = Symbol('URL');

  @Module({ providers: [{ provide: URL_TOKEN, useFactory: () => server.url }], exports: [URL_TOKEN] })
  class ConfigModule {}

  @Injectable()
  class ClaudeConfig implements ClaudeStreamOptionsFactory {
    constructor(@Inject(URL_TOKEN) private readonly url: string) {}
    createClaudeStreamOptions(): Promise<ClaudeStreamModuleOptions> {
      return Promise.resolve({ ...OPTIONS, baseURL: this.url });
    }
  }

  @Module({ imports: [ConfigModule], providers: [ClaudeConfig], exports: [ClaudeConfig] })
  class ClaudeConfigModule {}

  it.each<[string, () => DynamicModule]>([
    [
      'useFactory with inject',
      () =>
        ClaudeStreamModule.forRootAsync({
          imports: [ConfigModule],
          inject: [URL_TOKEN],
          useFactory: (url: string) => ({ ...OPTIONS, baseURL: url }),
        }),
    ],
    ['useClass', () => ClaudeStreamModule.forRootAsync({ imports: [ConfigModule], useClass: ClaudeConfig })],
    [
      'useExisting',
      () => ClaudeStreamModule.forRootAsync({ imports: [ClaudeConfigModule], useExisting: ClaudeConfig }),
    ],
  ])('%s', async (_, dynamicModule) => {
    const moduleRef = await compile(dynamicModule());

    expect(await bodySentBy(moduleRef.get(ClaudeStreamService))).toMatchObject({ model: MODEL, max_tokens: 99 });
    await moduleRef.close();
  });

  it('validates what the factory returns', async () => {
    const dynamicModule = ClaudeStreamModule.forRootAsync({
      useFactory: () => ({ ...OPTIONS, timeout: { each: -1 } }),
    });

    await expect(compile(dynamicModule)).rejects.toThrow(/options\.timeout.*each/);
  });
});

describe('isGlobal', () => {
  @Injectable()
  class Feature {
    constructor(readonly claude: ClaudeStreamService) {}
  }

  @Module({ providers: [Feature] })
  class FeatureModule {}

  it.each([
    ['forRoot', (isGlobal: boolean) => ClaudeStreamModule.forRoot({ ...options(), isGlobal })],
    ['forRootAsync', (isGlobal: boolean) => ClaudeStreamModule.forRootAsync({ useFactory: options, isGlobal })],
  ])('%s({ isGlobal: true }) provides the service to modules that do not import it', async (_, root) => {
    const moduleRef = await compile(root(true), FeatureModule);

    expect(moduleRef.get(Feature).claude).toBe(moduleRef.get(ClaudeStreamService));
    await moduleRef.close();
  });

  it('without isGlobal, a module that does not import it cannot inject the service', async () => {
    await expect(compile(ClaudeStreamModule.forRoot(options()), FeatureModule)).rejects.toThrow(/ClaudeStreamService/);
  });
});

describe('bad options fail at start-up, naming the option and never the key', () => {
  const SECRET = `sk-ant-${Math.random().toString(36).slice(2)}-do-not-echo`;
  const saved: Record<string, string | undefined> = {};
  const VARIABLES = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_PROFILE'];
  beforeAll(() => {
    for (const name of VARIABLES) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
  });
  afterAll(() => {
    for (const name of VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  async function startUpError(moduleOptions: unknown): Promise<string> {
    const dynamicModule = ClaudeStreamModule.forRootAsync({
      useFactory: () => moduleOptions as ClaudeStreamModuleOptions,
    });
    try {
      await compile(dynamicModule);
    } catch (error) {
      return String(error instanceof Error ? error.message : error);
    }
    throw new Error('expected start-up to fail');
  }

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no API key anywhere', {}, /no API key.*options\.apiKey.*ANTHROPIC_API_KEY/],
    ['a blank apiKey', { apiKey: '  ' }, /options\.apiKey must be a non-empty string/],
    ['an apiKey that is not a string', { apiKey: 42 }, /options\.apiKey must be a non-empty string, got number/],
    ['a relative baseURL', { apiKey: SECRET, baseURL: '/v1' }, /options\.baseURL must be an absolute http\(s\) URL/],
    [
      'a client and an apiKey',
      { client: new Anthropic({ apiKey: 'x' }), apiKey: SECRET },
      /options\.client.*options\.apiKey/,
    ],
    ['a client that is not one', { client: {} }, /options\.client must be a Claude client with messages\.create/],
    ['the key twice', { apiKey: SECRET, clientOptions: { apiKey: SECRET } }, /API key is given twice/],
    ['an unknown option', { apiKey: SECRET, default: { model: MODEL } }, /options\.default is not an option/],
    ['isGlobal in the factory', { apiKey: SECRET, isGlobal: true }, /options\.isGlobal belongs to forRootAsync/],
    ['defaults that stream', { apiKey: SECRET, defaults: { stream: false } }, /options\.defaults\.stream/],
    [
      'a bad max_tokens',
      { apiKey: SECRET, defaults: { max_tokens: 0 } },
      /options\.defaults\.max_tokens must be a positive integer, got 0/,
    ],
    ['a bad retry', { apiKey: SECRET, retry: { maxRetries: -1 } }, /invalid options\.retry: .*maxRetries/],
    ['retry: true', { apiKey: SECRET, retry: true }, /options\.retry must be a retryOnRateLimit config or false/],
    ['a bad timeout', { apiKey: SECRET, timeout: 0 }, /invalid options\.timeout/],
    ['a bad heartbeat', { apiKey: SECRET, sse: { heartbeatMs: -5 } }, /invalid options\.sse: .*heartbeatMs/],
    ['an unknown event name', { apiKey: SECRET, sse: { events: ['text'] } }, /invalid options\.sse: .*"text"/],
    ['an unknown sse option', { apiKey: SECRET, sse: { heartbeat: 5 } }, /options\.sse\.heartbeat is not an option/],
    [
      'a bad subscribeTimeoutMs',
      { apiKey: SECRET, sse: { subscribeTimeoutMs: 0 } },
      /options\.sse\.subscribeTimeoutMs/,
    ],
    ['options that are not an object', undefined as never, /the options must be an object, got undefined/],
    [
      'a store that is not one',
      { apiKey: SECRET, store: { read: () => null } },
      /options\.store must be a StreamStore.*create/,
    ],
    ['resume that is a number', { apiKey: SECRET, resume: 5 }, /options\.resume must be true, false or an object/],
    [
      'a bad graceMs',
      { apiKey: SECRET, resume: { graceMs: 0 } },
      /invalid options\.resume: graceMs must be a positive/,
    ],
    [
      'a bad owner cap',
      { apiKey: SECRET, resume: { maxStreamsPerOwner: 2.5 } },
      /maxStreamsPerOwner must be a positive integer/,
    ],
    ['a store inside resume', { apiKey: SECRET, resume: { store: {} } }, /options\.resume\.store is not an option/],
  ])('%s', async (_, moduleOptions, message) => {
    const error = await startUpError(moduleOptions);

    expect(error).toMatch(/^ClaudeStreamModule: /);
    expect(error).toMatch(message);
    expect(error).not.toContain(SECRET);
  });

  it('starts with the key from ANTHROPIC_API_KEY', async () => {
    process.env['ANTHROPIC_API_KEY'] = SECRET;
    try {
      const moduleRef = await compile(ClaudeStreamModule.forRoot({ ...options(), apiKey: undefined }));
      await bodySentBy(moduleRef.get(ClaudeStreamService));
      expect(lastCredential()).toBe(SECRET);
      await moduleRef.close();
    } finally {
      delete process.env['ANTHROPIC_API_KEY'];
    }
  });
});
