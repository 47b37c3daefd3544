import { TestScheduler } from 'rxjs/testing';
import { IncompleteStreamError } from 'claude-rx';
it('err eq', () => {
  const s = new TestScheduler((a, e) => expect(a).toEqual(e));
  s.run(({ cold, expectObservable }) => {
    const partial = { id: 'x' } as never;
    expectObservable(cold('#', undefined, new IncompleteStreamError(partial))).toBe('#', undefined, new IncompleteStreamError({id: 'y'} as never));
  });
});
it('err eq2', () => {
  expect(new IncompleteStreamError({ id: 'x' } as never)).toEqual(new IncompleteStreamError({ id: 'x', c: 1 } as never));
});
