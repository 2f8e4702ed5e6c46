/**
 * What libp2p needs that Node 20 lacks: `Promise.withResolvers` (Node 22+).
 * Imported first by the Node entry; a no-op where the platform has it.
 */
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> () {
      let resolve!: (v: T | PromiseLike<T>) => void
      let reject!: (e: unknown) => void
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
export {}
