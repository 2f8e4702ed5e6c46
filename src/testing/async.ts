/** Async helpers for tests. */

/** The error `p` rejects with; fails the test when it resolves instead. */
export async function rejection<E extends Error = Error> (p: Promise<unknown>): Promise<E> {
  return await p.then(() => { throw new Error('expected a rejection') }, (e: E) => e)
}
