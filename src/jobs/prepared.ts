/**
 * Which replicas a requester knows to have a model loaded: they get the job
 * at once; any other is asked to prepare (fetch and load the model) first,
 * off the job's answer clock. Learnt from `ready` and from answered jobs,
 * forgotten when a job to the peer fails. Bounded: least recently used pairs
 * go first.
 */
export class PreparedReplicas {
  private readonly pairs = new Set<string>()

  /** @param limit peer × model pairs kept @default 4096 */
  constructor (private readonly limit = 4096) {}

  has (peerId: string, modelHash: string): boolean {
    const key = `${peerId}/${modelHash}`
    if (!this.pairs.has(key)) return false
    // most recently used last
    this.pairs.delete(key)
    this.pairs.add(key)
    return true
  }

  add (peerId: string, modelHash: string): void {
    const key = `${peerId}/${modelHash}`
    this.pairs.delete(key)
    this.pairs.add(key)
    while (this.pairs.size > this.limit) this.pairs.delete(this.pairs.values().next().value as string)
  }

  delete (peerId: string, modelHash: string): void {
    this.pairs.delete(`${peerId}/${modelHash}`)
  }

  get size (): number { return this.pairs.size }
}
