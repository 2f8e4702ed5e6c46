/**
 * A third-party page asking Crosscheck for a verified result. Everything that
 * uses the library is in `run()`; the rest reads the query and draws the page.
 */
import { createNode, tensorsToJSON } from 'crosscheck'
import { verifyReceipt } from 'crosscheck/verify'

const params = new URLSearchParams(location.search)
/** A Crosscheck site: its model catalog (models/manifest.json) names models by id. */
const site = params.get('site') ?? 'http://127.0.0.1:8080/'
const show = (id: string, text: string, cls = ''): void => {
  const el = document.getElementById(id) as HTMLElement
  el.textContent = text
  el.className = cls
}

async function relayOf (): Promise<string> {
  // `npm start` serves the relay it launched as /relay.json on the Crosscheck site
  return params.get('relay') ?? ((await (await fetch(new URL('relay.json', site))).json()) as { relay: string }).relay
}

async function run (): Promise<void> {
  const node = createNode({ relays: await relayOf(), catalogUrl: site, contribute: false })
  node.addEventListener('node:state', ({ detail: s }) => {
    show('status', `${s.state}, ${s.peers.length} peers known`)
    if (s.runtime != null) show('runtime', s.runtime.numericClass)
  })
  await node.start()
  const inputs = { x: { dtype: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => i / 16) } }
  const { outputs, receipt, agreeing } = await node.run('mlp', inputs, { replicas: 2, quorum: 2 }, {
    signal: AbortSignal.timeout(120_000),
    onProgress: (p) => { show('status', `job: ${p.type}`) }
  }).finally(async () => { await node.stop() })
  const { ok, checks } = await verifyReceipt(receipt)
  show('outputs', JSON.stringify(tensorsToJSON(outputs), null, 2))
  show('receipt', receipt)
  show('verified', ok ? 'verifies' : `INVALID: ${checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}`, ok ? 'ok' : 'fail')
  show('status', `accepted: ${agreeing.length} peers agree`, 'ok')
}

run().catch((err: Error) => { show('status', `${err.name}: ${err.message}`, 'fail') })
