/**
 * The popup: Start/Stop, the relay, the CPU share, and what the node is doing.
 * It talks only to the service worker (which owns the settings and the
 * offscreen document) and polls it while open; closing the popup changes
 * nothing. `window.crosscheckExtension` exposes the same status for e2e tests.
 */
import { askBackground } from './messages.js'
import type { BackgroundRequest, ExtensionStatus } from './messages.js'
import { describeBackend, describeState, shortId } from './popup-state.js'

/** How often the popup refreshes while open (ms). */
const POLL_MS = 1000

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T

let relayFilled = false
let last: ExtensionStatus | undefined

function showError (err: unknown): void {
  const e = err as { name?: string, message?: string }
  $('error').textContent = `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`
  $('error').hidden = false
}

function render (s: ExtensionStatus): void {
  last = s
  const state = describeState(s)
  const node = s.offscreen?.node ?? null
  $('state').textContent = state.word
  $('state').dataset.state = state.word
  $('state-detail').textContent = state.detail
  // fill the relay once: later renders must not overwrite what the person is typing
  if (!relayFilled) {
    $<HTMLInputElement>('relay').value = s.settings.relay
    relayFilled = true
  }
  $<HTMLInputElement>('relay').disabled = !state.canStart
  $<HTMLButtonElement>('start').disabled = !state.canStart
  $<HTMLButtonElement>('stop').disabled = state.canStart && !s.settings.contribute
  const peerId = node?.peerId !== undefined && node.peerId !== '' ? node.peerId : s.settings.peerId ?? ''
  $('peer-id').textContent = peerId === '' ? '–' : shortId(peerId)
  $('peer-id').title = peerId
  $('peer-id').dataset.peerId = peerId
  $('linked').textContent = node != null ? String(node.linked) : '–'
  $('jobs-done').textContent = node != null ? String(node.jobsDone) : '–'
  $('backend').textContent = describeBackend(node, s.offscreen?.crossOriginIsolated)
  const bytes = (node?.models ?? []).reduce((a, m) => a + m.size, 0)
  $('models').textContent = node != null ? `${node.models.length} (${(bytes / 1024).toFixed(1)} kB)` : '–'
  const share = Math.round((node?.cpuShare ?? s.settings.cpuShare) * 100)
  const slider = $<HTMLInputElement>('cpu-share')
  if (document.activeElement !== slider) slider.value = String(share)
  $('cpu-share-label').textContent = `${share}%`
}

/** What the error line shows: a failed action stays until the next action; a failed refresh until the next refresh. */
let errorOf: 'action' | 'status' | undefined

async function ask (req: BackgroundRequest): Promise<void> {
  const kind = req.type === 'status' ? 'status' : 'action'
  try {
    render(await askBackground(req))
    if (kind === 'action' || errorOf === 'status') {
      $('error').hidden = true
      errorOf = undefined
    }
  } catch (err) {
    showError(err)
    errorOf = kind
  }
}

$('controls').addEventListener('submit', (evt) => {
  evt.preventDefault()
  $<HTMLButtonElement>('start').disabled = true
  void ask({ to: 'background', type: 'start', relay: $<HTMLInputElement>('relay').value })
})
$('stop').addEventListener('click', () => {
  $<HTMLButtonElement>('stop').disabled = true
  void ask({ to: 'background', type: 'stop' })
})
$<HTMLInputElement>('cpu-share').addEventListener('input', (evt) => {
  $('cpu-share-label').textContent = `${(evt.target as HTMLInputElement).value}%`
})
$<HTMLInputElement>('cpu-share').addEventListener('change', (evt) => {
  void ask({ to: 'background', type: 'cpu-share', share: Number((evt.target as HTMLInputElement).value) / 100 })
})

// a status request is cheap (the service worker asks the offscreen document); only while the popup is open
async function poll (): Promise<void> {
  await ask({ to: 'background', type: 'status' })
  setTimeout(() => { void poll() }, POLL_MS)
}
void poll()

/** Typed hooks for end-to-end tests: the same requests the buttons send. */
const hooks = {
  status: async (): Promise<ExtensionStatus> => await askBackground({ to: 'background', type: 'status' }),
  last: (): ExtensionStatus | undefined => last
}
declare global { interface Window { crosscheckExtension: typeof hooks } }
window.crosscheckExtension = hooks
