/** What `pumpEvents` delivers to: a `Subscriber`'s own members. */
export interface EventSink<T> {
  readonly closed: boolean;
  next(value: T): void;
  error(error: unknown): void;
  complete(): void;
}
