import { Stream } from '@anthropic-ai/sdk/core/streaming';
import { SseDecoder, type SseWireMessage } from '../../lib/wire/sse-decoder.js';
import {
  between,
  bodyOf,
  pick,
  prng,
  randomSplit,
  recordedFixtures,
  utf8,
  withLineEndings,
  withMultiByteData,
} from './support/wire.js';

// SseDecoder is a push-based copy of the SDK's `_iterSSEMessages`: for any bytes, cut anywhere, it must give the very
// messages (event, data) that the SDK's `Stream.rawEvents` gives. Each case runs both on the same pieces.

/** A message's event and data (its raw lines are for logs only). */
type Message = Pick<SseWireMessage, 'event' | 'data'>;

/** What the SDK's decoder makes of `pieces`. */
async function sdkMessages(pieces: readonly Uint8Array[]): Promise<Message[]> {
  const messages: Message[] = [];
  for await (const { event, data } of Stream.rawEvents(new Response(bodyOf(pieces)))) messages.push({ event, data });
  return messages;
}

/** What SseDecoder makes of `pieces`, fed as readEventStream feeds it: through one streaming TextDecoder. */
function decoderMessages(pieces: readonly Uint8Array[]): Message[] {
  const messages: Message[] = [];
  const decoder = new SseDecoder(({ event, data }) => messages.push({ event, data }));
  const text = new TextDecoder('utf-8', { ignoreBOM: true });
  for (const piece of pieces) decoder.feed(text.decode(piece, { stream: true }));
  decoder.end(text.decode());
  return messages;
}

async function expectSameMessages(pieces: readonly Uint8Array[], label: string): Promise<Message[]> {
  const expected = await sdkMessages(pieces);
  const actual = decoderMessages(pieces);
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    // The pieces, so that a failure can be replayed by hand.
    const shown = pieces.map((piece) => JSON.stringify(new TextDecoder().decode(piece))).join(', ');
    throw new Error(
      `${label}: decoder ${JSON.stringify(actual)}\n  sdk ${JSON.stringify(expected)}\n  pieces ${shown}`,
    );
  }
  expect(actual).toEqual(expected);
  return actual;
}

const FIXTURES = recordedFixtures();

/** Every fixture, and variants of it: CRLF, CR, multi-byte data (cuts inside UTF-8), BOM at the body's start. */
function fixtureVariants(): [string, Uint8Array][] {
  const variants: [string, Uint8Array][] = [];
  for (const [name, bytes] of FIXTURES) {
    const text = new TextDecoder().decode(bytes);
    variants.push([name, bytes]);
    variants.push([`${name} (CRLF)`, utf8(withLineEndings(text, '\r\n'))]);
    variants.push([`${name} (CR)`, utf8(withLineEndings(text, '\r'))]);
    variants.push([`${name} (multi-byte data)`, utf8(withMultiByteData(text))]);
    variants.push([`${name} (multi-byte data, CRLF)`, utf8(withLineEndings(withMultiByteData(text), '\r\n'))]);
    variants.push([`${name} (BOM)`, utf8(`\uFEFF${text}`)]);
  }
  return variants;
}

/** One field line: its text, and what it does to the message (so that a generator can keep to the SDK's cases). */
interface FieldLine {
  readonly text: string;
  readonly sets: 'event' | 'data' | 'nothing';
  readonly value: string;
}

const VALUES = [
  '{"type":"message_stop"}',
  'x',
  '',
  ' leading',
  'é',
  '日本語',
  '🎉🎉',
  'a:b: c',
  'tab\there',
  '{ "a" : 1 }',
];
const NAMES = ['message_start', 'content_block_delta', 'ping', 'error', 'future_event', 'é🎉'];

function fieldLine(random: () => number): FieldLine {
  const bom = random() < 0.1 ? '\uFEFF' : '';
  const value = pick(random, VALUES);
  const name = pick(random, NAMES);
  switch (between(random, 0, 13)) {
    case 0:
      return { text: `${bom}event: ${name}`, sets: 'event', value: name };
    case 1:
      return { text: `${bom}event:${name}`, sets: 'event', value: name };
    case 2:
      // Only one leading space is dropped.
      return { text: `${bom}event:  ${name}`, sets: 'event', value: ` ${name}` };
    case 3:
      return { text: `${bom}${pick(random, ['event', 'event:', 'event: '])}`, sets: 'event', value: '' };
    case 4:
    case 5:
      return { text: `${bom}data: ${value}`, sets: 'data', value };
    case 6:
      return { text: `${bom}data:${value}`, sets: 'data', value };
    case 7:
      return { text: `${bom}${pick(random, ['data', 'data:', 'data: '])}`, sets: 'data', value: '' };
    case 8:
      return { text: `${bom}id: ${between(random, 0, 99)}`, sets: 'nothing', value: '' };
    case 9:
      return { text: `${bom}retry: ${between(random, 0, 5000)}`, sets: 'nothing', value: '' };
    case 10:
      return {
        text: `${bom}:${pick(random, ['', ' keep-alive', ' 🎉 comment', 'data: not data'])}`,
        sets: 'nothing',
        value: '',
      };
    case 11:
      // Not fields the SDK reads: another name, another case, a leading space, a second BOM.
      return {
        text: pick(random, ['unknown: x', 'Event: x', 'DATA: x', ' data: x', '\uFEFF\uFEFFdata: x', 'eventx: y']),
        sets: 'nothing',
        value: '',
      };
    default:
      return { text: `${bom}data: ${value}`, sets: 'data', value };
  }
}

/**
 * A random SSE body: messages of random field lines, each ended by one or more blank lines (a BOM alone counts as
 * blank), line endings `\n`, `\r\n`, `\r` mixed, and maybe a last message without its blank line.
 *
 * A message with no data whose event is empty is left out (one data line added); a case of its own covers it.
 */
function randomBody(random: () => number): string {
  const ending = () => pick(random, ['\n', '\r\n', '\r']);
  let body = random() < 0.1 ? '\uFEFF' : '';
  const messages = between(random, 0, 12);
  for (let m = 0; m < messages; m++) {
    const lines = Array.from({ length: between(random, 1, 5) }, () => fieldLine(random));
    let event: string | null = null;
    let data = 0;
    for (const line of lines) {
      if (line.sets === 'event') event = line.value;
      if (line.sets === 'data') data++;
    }
    if (data === 0 && event === '') lines.push({ text: 'data: added', sets: 'data', value: 'added' });
    for (const line of lines) {
      // A BOM is dropped once per line: a line's own BOM after the body's would hide its field.
      body += (body === '\uFEFF' ? line.text.replace(/^\uFEFF/, '') : line.text) + ending();
    }
    const last = m === messages - 1;
    if (last && random() < 0.25) break; // no blank line: the message is dropped
    for (let blank = between(random, 1, 2); blank > 0; blank--) body += (random() < 0.1 ? '\uFEFF' : '') + ending();
  }
  if (random() < 0.1) body += 'data: unterminated'; // the body ends mid-line
  if (random() < 0.1) body += '\r'; // a `\r` that could be half of `\r\n`, and is the last byte
  return body;
}

describe('SseDecoder, against the SDK’s Stream.rawEvents', () => {
  it('finds the recorded fixtures (a missing folder would make the loops below vacuous)', () => {
    expect([...FIXTURES.keys()]).toEqual(
      expect.arrayContaining(['basic_response.sse', 'tool_use_response.sse', 'incomplete_partial_json_response.sse']),
    );
  });

  it.each(fixtureVariants())('%s: whole, and cut at random in 150 ways', async (name, bytes) => {
    const whole = await expectSameMessages([bytes], name);
    // A sanity check that the comparison compares something: every fixture holds six messages or more.
    expect(whole.length).toBeGreaterThanOrEqual(5);
    const random = prng(bytes.length * 31 + name.length);
    for (let split = 0; split < 150; split++) {
      await expectSameMessages(randomSplit(bytes, random), `${name}, split ${split}`);
    }
  });

  it.each(fixtureVariants().filter(([name]) => name.includes('multi-byte')))(
    '%s: cut at every byte, one piece per byte',
    async (name, bytes) => {
      await expectSameMessages(
        Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)),
        name,
      );
    },
  );

  it('recorded fixtures: a cut at every single position of the body', async () => {
    for (const [name, bytes] of FIXTURES) {
      for (let cut = 0; cut <= bytes.length; cut++) {
        await expectSameMessages([bytes.subarray(0, cut), bytes.subarray(cut)], `${name} cut at ${cut}`);
      }
    }
  });

  it('600 random streams (mixed line endings, BOMs, comments, id/retry, multi-line data), each cut in 5 ways', async () => {
    let messages = 0;
    for (let seed = 1; seed <= 600; seed++) {
      const random = prng(seed);
      const bytes = utf8(randomBody(random));
      messages += (await expectSameMessages([bytes], `seed ${seed}, whole`)).length;
      for (let split = 0; split < 5; split++) {
        await expectSameMessages(randomSplit(bytes, random, 6), `seed ${seed}, split ${split}`);
      }
    }
    // The generator does produce messages (a broken one emitting none would pass vacuously).
    expect(messages).toBeGreaterThan(1000);
  });

  describe('one case each', () => {
    const cases: [string, string[], Message[]][] = [
      ['LF', ['event: a\ndata: 1\n\n'], [{ event: 'a', data: '1' }]],
      ['CRLF', ['event: a\r\ndata: 1\r\n\r\n'], [{ event: 'a', data: '1' }]],
      ['CR', ['event: a\rdata: 1\r\r'], [{ event: 'a', data: '1' }]],
      [
        'a `\\r` at a chunk’s end, its `\\n` in the next',
        ['event: a\r', '\ndata: 1\r', '\n\r', '\n'],
        [{ event: 'a', data: '1' }],
      ],
      ['a `\\r` at a chunk’s end, a CR-only body', ['event: a\r', 'data: 1\r', '\r'], [{ event: 'a', data: '1' }]],
      ['BOMs at line starts', ['\uFEFFevent: a\n\uFEFFdata: 1\n\uFEFF\n'], [{ event: 'a', data: '1' }]],
      [
        'comments, id and retry ignored',
        [': hi\nid: 3\nretry: 10\nevent: a\ndata: 1\n\n'],
        [{ event: 'a', data: '1' }],
      ],
      ['multi-line data joined with \\n', ['event: a\ndata: 1\ndata:\ndata: 2\n\n'], [{ event: 'a', data: '1\n\n2' }]],
      ['`event:` with an empty value, with data', ['event:\ndata: 1\n\n'], [{ event: '', data: '1' }]],
      ['data without event', ['data: 1\n\n'], [{ event: null, data: '1' }]],
      [
        'a last message without its blank line is dropped',
        ['event: a\ndata: 1\n\nevent: b\ndata: 2\n'],
        [{ event: 'a', data: '1' }],
      ],
      ['empty chunks', ['', 'event: a\n', '', '', 'data: 1\n', '\n', ''], [{ event: 'a', data: '1' }]],
      ['one leading space dropped, not two', ['event:  a\ndata:  1\n\n'], [{ event: ' a', data: ' 1' }]],
      ['a body ending in `\\r` after a line', ['data: 1\r\r'], [{ event: null, data: '1' }]],
    ];

    it.each(cases)('%s', async (_name, chunks, expected) => {
      const messages = await expectSameMessages(chunks.map(utf8), _name);
      expect(messages).toEqual(expected);
    });

    it('a multi-byte character cut across three chunks', async () => {
      const bytes = utf8('event: é\ndata: 🎉\n\n');
      const emoji = bytes.indexOf(0xf0);
      const pieces = [
        bytes.subarray(0, 9),
        bytes.subarray(9, emoji + 1),
        bytes.subarray(emoji + 1, emoji + 3),
        bytes.subarray(emoji + 3),
      ];
      expect(await expectSameMessages(pieces, 'cut emoji')).toEqual([{ event: 'é', data: '🎉' }]);
    });
  });

  // An empty `event:` without data ends no message, and stays set for the next one, as in the SDK.
  it('an `event:` with an empty value and no data, then a message of data only: as the SDK', async () => {
    await expectSameMessages([utf8('event:\n\ndata: {"type":"message_stop"}\n\n')], 'empty event, no data');
  });
});
