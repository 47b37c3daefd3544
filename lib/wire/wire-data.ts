/**
 * The `data` an event came with on the wire, for the event being delivered now: `toSseFrames` writes it as it came
 * instead of serializing the event again. One slot, not a map: events are delivered synchronously from the decoder
 * through the operators to `toSseFrames`, so the event being framed is the last one decoded, or it is another object
 * (a replay, an event an operator replaced), which is serialized. The decoder freezes what it delivers, so that an
 * operator cannot change an event in place and leave its wire data stale.
 */
let lastEvent: object | undefined;
let lastData = '';

/** Notes `event`'s wire data, just before the event is delivered. */
export function noteWireData(event: object, data: string): void {
  lastEvent = event;
  lastData = data;
}

/**
 * The wire data of `event`, when it is the event being delivered and its data is one line (a frame must stay one line
 * of JSON, unforgeable); `undefined` otherwise.
 */
export function wireDataOf(event: object): string | undefined {
  return event === lastEvent && lastData.indexOf('\n') === -1 ? lastData : undefined;
}

/** Freezes a value parsed from JSON, and everything in it. */
export function freezeParsed<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.freeze(value);
    for (const key in value) freezeParsed((value as Record<string, unknown>)[key]);
  }
  return value;
}
