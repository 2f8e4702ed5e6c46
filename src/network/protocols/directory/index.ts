/**
 * The directory protocol, `/crosscheck/directory/1.0.0`: a peer and its
 * relays. One length-prefixed request, one response, per stream, over the
 * peer's own WebSocket connection to the relay (never a circuit, never
 * between browsers).
 *
 * - `lease`: a contributor hands its signed lease to a home relay, which
 *   holds it while the connection lasts (and passes it to the other relays
 *   on their backbone topic);
 * - `sample`: a requester asks for up to `count` random live contributors
 *   (for a model, of a class) and the current leases of its pool members;
 * - `leave`: a contributor takes its lease back (closing a tab does too).
 *
 * @example
 * ```ts
 * // relay
 * const server = new DirectoryServer({ registrar: node, book, self: node.peerId.toString() })
 * await server.start()
 * // peer
 * const res = await directoryRequest(conn, { type: 'sample', count: 16, exclude: [], renew: [] }, { signal })
 * ```
 */
import type { Connection, Libp2p, Startable, Stream } from '@libp2p/interface'
import { InvalidMessageError } from '../../../errors.js'
import type { AbortOptions } from '../../../abort.js'
import { createLogger } from '../../../logger.js'
import { openLease } from '../../lease.js'
import type { Lease } from '../../lease.js'
import type { LeaseBook } from '../../lease-book.js'
import { asError, withTimeout, wrapAbort } from '../../signals.js'
import { jobLpStream, namedFramingError } from '../job/framing.js'
import { DEFAULT_DIRECTORY_TIMEOUT_MS, DIRECTORY_MAX_INBOUND_STREAMS, DIRECTORY_PROTOCOL, MAX_DIRECTORY_MESSAGE_BYTES } from './constants.js'
import { decodeDirectoryRequest, decodeDirectoryResponse, encodeDirectoryMessage } from './messages.js'
import type { DirectoryRequest, DirectoryResponse } from './messages.js'

export { DIRECTORY_PROTOCOL } from './constants.js'
export type { DirectoryRequest, DirectoryResponse, SampleRequest } from './messages.js'

const log = createLogger('network:directory')

/**
 * Sends one directory request on `conn` and reads its answer. An `error`
 * answer is thrown as a named error (`err.name` is the relay's class name).
 */
export async function directoryRequest (conn: Connection, req: DirectoryRequest, options: AbortOptions & { timeout?: number } = {}): Promise<Exclude<DirectoryResponse, { type: 'error' }>> {
  const signal = withTimeout(options.signal, options.timeout ?? DEFAULT_DIRECTORY_TIMEOUT_MS)
  let stream: Stream | undefined
  try {
    stream = await conn.newStream(DIRECTORY_PROTOCOL, { signal })
    const lp = jobLpStream(stream, MAX_DIRECTORY_MESSAGE_BYTES)
    await lp.write(encodeDirectoryMessage(req), { signal })
    const res = decodeDirectoryResponse((await lp.read({ signal })).subarray())
    await stream.close({ signal }).catch(() => {})
    if (res.type === 'error') {
      const err = new Error(`relay answered ${res.error.name}: ${res.error.message}`)
      err.name = res.error.name
      throw err
    }
    return res
  } catch (err) {
    stream?.abort(asError(err))
    throw namedFramingError(wrapAbort(err, signal, `directory ${req.type} to ${conn.remotePeer.toString()}`), 'directory response')
  }
}

export interface DirectoryServerComponents {
  registrar: Pick<Libp2p, 'handle' | 'unhandle'>
  book: LeaseBook
  /** The relay's own peer id: the origin of the leases it holds for its peers. */
  self: string
  /** @default Math.random */
  random?: () => number
  /** @default Date.now */
  now?: () => number
  /** A lease was put (`lease`) or taken back (`undefined`) by a peer on this relay: tell the backbone. */
  changed?: (peerId: string, lease: Lease | undefined) => void
}

export interface DirectoryServerStats {
  /** Directory requests served since start, by type. */
  requests: { lease: number, sample: number, leave: number, bad: number }
}

export class DirectoryServer implements Startable {
  private readonly components: DirectoryServerComponents
  private started = false
  readonly counts = { lease: 0, sample: 0, leave: 0, bad: 0 }

  constructor (components: DirectoryServerComponents) {
    this.components = components
  }

  isStarted (): boolean { return this.started }

  async start (): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(DIRECTORY_PROTOCOL, (stream, conn) => { void this.serve(stream, conn) }, { maxInboundStreams: DIRECTORY_MAX_INBOUND_STREAMS, runOnLimitedConnection: false })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.components.registrar.unhandle(DIRECTORY_PROTOCOL)
  }

  private async serve (stream: Stream, conn: Connection): Promise<void> {
    const signal = AbortSignal.timeout(DEFAULT_DIRECTORY_TIMEOUT_MS)
    const lp = jobLpStream(stream, MAX_DIRECTORY_MESSAGE_BYTES)
    const from = conn.remotePeer.toString()
    let res: DirectoryResponse
    try {
      const req = decodeDirectoryRequest((await lp.read({ signal })).subarray())
      res = await this.answer(req, from)
    } catch (err: any) {
      this.counts.bad++
      const named = namedFramingError(err, 'directory request') as Error
      log('directory request from %s failed: %s', from, named?.message)
      res = { type: 'error', error: { name: String(named?.name ?? 'Error'), message: String(named?.message ?? named) } }
    }
    try {
      await lp.write(encodeDirectoryMessage(res), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(asError(err))
    }
  }

  private async answer (req: DirectoryRequest, from: string): Promise<DirectoryResponse> {
    const { book, self } = this.components
    const now = (this.components.now ?? Date.now)()
    if (req.type === 'lease') {
      this.counts.lease++
      const lease = await openLease(req.lease, { now })
      // a relay holds a lease only from the peer it describes, over its own connection
      if (lease.peerId !== from) throw new InvalidMessageError(`lease describes ${lease.peerId}, but ${from} sent it`)
      const put = book.put(lease, self)
      if (put === 'full') throw new InvalidMessageError('this relay holds as many leases as it may')
      if (put !== 'older') this.components.changed?.(from, lease)
      return { type: 'ack', held: book.size }
    }
    if (req.type === 'leave') {
      this.counts.leave++
      if (book.drop(from, self)) this.components.changed?.(from, undefined)
      return { type: 'ack', held: book.size }
    }
    this.counts.sample++
    const exclude = new Set([...req.exclude, from, ...req.renew])
    const { leases, total } = book.sample({ count: req.count, model: req.model, numericClass: req.numericClass, exclude }, this.components.random ?? Math.random)
    const renewed = req.renew.map(id => book.get(id)).filter((l): l is Lease => l != null)
    return { type: 'leases', leases: leases.map(l => l.signed), renewed: renewed.map(l => l.signed), total, held: book.size }
  }
}
