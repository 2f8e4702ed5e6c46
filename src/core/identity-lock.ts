/**
 * One Crosscheck identity per browser profile at a time. Every tab, widget
 * frame and extension page of an origin shares one IndexedDB, hence one peer
 * key: two nodes with one peer id would fight over the relay reservation and
 * double-vote. A Web Lock (`navigator.locks`) decides which one runs; the
 * others learn who holds it over a BroadcastChannel, and may take it over
 * (`steal`), which stops the holder.
 *
 * @example
 * ```ts
 * const got = await acquireIdentityLock({ surface: 'page' })
 * if (!got.held) show(`in use by ${got.holder?.surface ?? 'another tab'}`)
 * else {
 *   got.lock.setPeerId(peerId)
 *   void got.lock.lost.then(async () => { await node.stop() })   // another tab took over
 * }
 * ```
 */
import { AbortError, throwIfAborted } from '../errors.js'
import { createLogger } from '../logger.js'

const log = createLogger('identity-lock')

/** @default lock (and channel) name */
export const DEFAULT_IDENTITY_LOCK_NAME = 'crosscheck:identity'
/** @default how long a refused acquirer waits for the holder to say who it is, ms */
export const DEFAULT_WHO_TIMEOUT_MS = 500
// a same-origin channel, but answers are still validated before use
const MAX_FIELD_CHARS = 256

/** `navigator.locks`, or a fake in tests. */
export interface LockManagerLike { request: LockManager['request'], query?: LockManager['query'] }

/** The part of BroadcastChannel used here. */
export interface BroadcastChannelLike {
  postMessage (message: unknown): void
  addEventListener (type: 'message', listener: (evt: { data: unknown }) => void): void
  removeEventListener (type: 'message', listener: (evt: { data: unknown }) => void): void
  close (): void
}

/** Who holds the identity, as the holder told it. */
export interface HolderInfo { peerId?: string, surface: string, since: number }

export interface IdentityLockInit {
  /** Lock name, also the BroadcastChannel name. @default 'crosscheck:identity' */
  name?: string
  /**
   * Where the lock lives. @default navigator.locks. Where there is none (Node,
   * insecure http origins, old browsers) nothing is locked: acquiring always
   * succeeds and the lock is never lost.
   */
  locks?: LockManagerLike
  /** Opens the channel used to ask the holder who it is. @default name => new BroadcastChannel(name) (none where BroadcastChannel is missing) */
  channel?: (name: string) => BroadcastChannelLike
  /** What this holder is: 'page' | 'widget' | 'extension' | 'library'. */
  surface: string
  /** How long a refused acquirer waits for the holder's answer, ms. @default 500 */
  whoTimeoutMs?: number
}

export type LockResult =
  | { held: true, lock: HeldIdentityLock }
  /** `holder` as answered by the holding tab; absent when it did not answer in time. */
  | { held: false, holder?: HolderInfo }

export interface HeldIdentityLock {
  /** Shared with tabs that ask who holds the identity. */
  setPeerId (peerId: string): void
  /** Resolves when another tab took the identity over (steal); the holder must then stop its node. */
  readonly lost: Promise<void>
  /** Lets the next acquirer in. Idempotent. */
  release (): Promise<void>
}

interface WhoMessage { type: 'crosscheck:identity:who', nonce: string }
interface HolderMessage { type: 'crosscheck:identity:holder', nonce: string, holder: HolderInfo }

/**
 * Tries to take this profile's identity without waiting: `held: false` (with
 * the holder, if it answers within `whoTimeoutMs`) when another context holds
 * it. With `steal`, takes it from the holder, whose `lost` then resolves.
 * Throws AbortError when `signal` aborts (Web Locks refuse a signal together
 * with `ifAvailable` or `steal`, so it is checked here instead).
 */
export async function acquireIdentityLock (init: IdentityLockInit, options: { steal?: boolean, signal?: AbortSignal } = {}): Promise<LockResult> {
  const { signal } = options
  throwIfAborted(signal)
  const name = init.name ?? DEFAULT_IDENTITY_LOCK_NAME
  const locks = init.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
  if (locks == null) {
    log('no Web Locks here: the identity is not locked')
    return { held: true, lock: new UnlockedIdentity() }
  }
  const openChannel = (): BroadcastChannelLike | undefined => {
    try {
      if (init.channel != null) return init.channel(name)
      return typeof BroadcastChannel === 'function' ? new BroadcastChannel(name) : undefined
    } catch (err) {
      log('no channel to ask or answer who holds the identity: %s', (err as Error).message)
      return undefined
    }
  }

  const held = new HeldLock(init.surface, openChannel)
  let grant!: (held: boolean) => void
  let refuse!: (err: unknown) => void
  const granted = new Promise<boolean>((resolve, reject) => { grant = resolve; refuse = reject })
  let wasGranted = false
  const request = locks.request(name, options.steal === true ? { steal: true } : { ifAvailable: true }, async (lock) => {
    if (lock == null) { grant(false); return }
    wasGranted = true
    grant(true)
    // the lock is held for as long as this promise is pending
    await held.released
  })
  request.then(() => {}, (err: unknown) => {
    // before the grant: the request itself failed; after it: stolen (Web Locks reject the holder's request with an AbortError)
    if (!wasGranted) refuse(err)
    else held.markLost(err)
  })

  if (!await granted) {
    const holder = await askHolder(openChannel, init.whoTimeoutMs ?? DEFAULT_WHO_TIMEOUT_MS, signal)
    return holder != null ? { held: false, holder } : { held: false }
  }
  if (signal?.aborted === true) {
    await held.release()
    throw new AbortError('operation aborted', { cause: signal.reason })
  }
  held.listen()
  return { held: true, lock: held }
}

class HeldLock implements HeldIdentityLock {
  readonly lost: Promise<void>
  readonly released: Promise<void>
  private readonly info: HolderInfo
  private readonly openChannel: () => BroadcastChannelLike | undefined
  private channel?: BroadcastChannelLike
  private resolveLost!: () => void
  private resolveReleased!: () => void
  private done = false

  constructor (surface: string, openChannel: () => BroadcastChannelLike | undefined) {
    this.info = { surface, since: Date.now() }
    this.openChannel = openChannel
    this.lost = new Promise(resolve => { this.resolveLost = resolve })
    this.released = new Promise(resolve => { this.resolveReleased = resolve })
  }

  setPeerId (peerId: string): void { this.info.peerId = peerId }

  /** Starts answering 'who?' on the channel. */
  listen (): void {
    if (this.done) return
    this.channel = this.openChannel()
    this.channel?.addEventListener('message', this.onMessage)
  }

  markLost (err: unknown): void {
    if (this.done) return
    log('identity taken over by another context (%s)', (err as Error)?.name)
    this.stop()
    this.resolveLost()
  }

  async release (): Promise<void> {
    if (this.done) return
    this.stop()
    this.resolveReleased()
  }

  private stop (): void {
    this.done = true
    this.channel?.removeEventListener('message', this.onMessage)
    this.channel?.close()
    this.channel = undefined
  }

  private readonly onMessage = (evt: { data: unknown }): void => {
    const m = evt.data as Partial<WhoMessage> | null
    if (m?.type !== 'crosscheck:identity:who' || typeof m.nonce !== 'string' || m.nonce.length > MAX_FIELD_CHARS) return
    const reply: HolderMessage = { type: 'crosscheck:identity:holder', nonce: m.nonce, holder: { ...this.info } }
    this.channel?.postMessage(reply)
  }
}

/** Where nothing can be locked: always held, never lost. */
class UnlockedIdentity implements HeldIdentityLock {
  readonly lost = new Promise<void>(() => {})
  setPeerId (_peerId: string): void {}
  async release (): Promise<void> {}
}

/** Asks the holder who it is; undefined when nobody answers a valid reply within `timeoutMs`. */
async function askHolder (openChannel: () => BroadcastChannelLike | undefined, timeoutMs: number, signal?: AbortSignal): Promise<HolderInfo | undefined> {
  throwIfAborted(signal)
  const channel = openChannel()
  if (channel == null) return undefined
  const nonce = Math.random().toString(36).slice(2) + Date.now().toString(36)
  let resolve!: (holder: HolderInfo | undefined) => void
  let reject!: (err: Error) => void
  const answer = new Promise<HolderInfo | undefined>((res, rej) => { resolve = res; reject = rej })
  const onMessage = (evt: { data: unknown }): void => {
    const m = evt.data as Partial<HolderMessage> | null
    if (m?.type === 'crosscheck:identity:holder' && m.nonce === nonce && isHolderInfo(m.holder)) resolve(m.holder)
  }
  const onAbort = (): void => { reject(new AbortError('operation aborted', { cause: signal?.reason })) }
  const timer = setTimeout(() => { resolve(undefined) }, timeoutMs)
  channel.addEventListener('message', onMessage)
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    channel.postMessage({ type: 'crosscheck:identity:who', nonce } satisfies WhoMessage)
    return await answer
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
    channel.removeEventListener('message', onMessage)
    channel.close()
  }
}

function isHolderInfo (h: unknown): h is HolderInfo {
  if (h == null || typeof h !== 'object') return false
  const { peerId, surface, since } = h as Record<string, unknown>
  return typeof surface === 'string' && surface.length <= MAX_FIELD_CHARS &&
    typeof since === 'number' && Number.isFinite(since) &&
    (peerId === undefined || (typeof peerId === 'string' && peerId.length <= MAX_FIELD_CHARS))
}
