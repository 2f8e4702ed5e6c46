/** `{ signal }`, the last argument of every async call (as libp2p's AbortOptions). */
export interface AbortOptions {
  signal?: AbortSignal
}
