/**
 * The receipt page (`receipt.html`): verifies a receipt in the browser with
 * `crosscheck/verify` (the bundled Ed25519 verifier, no network), from a
 * paste, a dropped file or a `#r=` link, and shows what it binds: model,
 * input and output hashes, the policy, each vote with its own check, the
 * status, and every check by name.
 */
import './styles.css'
import { parseReceiptOutputs, verifyReceipt } from '../verify.js'
import type { ReceiptVerification } from '../verify.js'
import { readReceiptFragment } from './receipt-link.js'

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T

function item (text: string, ok?: boolean): HTMLLIElement {
  const li = document.createElement('li')
  li.textContent = text
  if (ok !== undefined) li.className = ok ? 'ok' : 'fail'
  return li
}

function show (result: ReceiptVerification, outputsProblem?: string): void {
  $('result').hidden = false
  const failed = result.checks.filter(c => !c.ok).map(c => c.name)
  if (outputsProblem !== undefined) failed.push('outputs')
  $('verdict').textContent = failed.length === 0 ? 'valid' : `invalid: failed ${[...new Set(failed)].join(', ')}`
  $('status-text').textContent = result.statusText !== undefined ? `Status: ${result.statusText}.` : ''
  const r = result.receipt
  const summary: Array<[string, string]> = r === undefined
    ? []
    : [
        ['version', String(r.v)],
        ['job', r.jobId],
        ['model', r.spec.modelHash],
        ['input', r.spec.inputHash],
        ['accepted output', `${r.accepted.outputHash} (${r.accepted.numericClass})`],
        ['policy', JSON.stringify(r.spec.policy)],
        ['replicas / quorum', `${r.spec.replicas} / ${r.spec.quorum}`],
        ['requester', r.spec.requester],
        ['created', new Date(r.spec.createdAt).toISOString()]
      ]
  $('summary').replaceChildren(...summary.flatMap(([k, v]) => {
    const dt = document.createElement('dt')
    dt.textContent = k
    const dd = document.createElement('dd')
    dd.textContent = v
    dd.dataset.field = k
    return [dt, dd]
  }))
  // vote checks come in receipt order, one per vote
  const voteChecks = result.checks.filter(c => c.name === 'vote')
  $('voters').replaceChildren(...(r?.votes ?? []).map((v, i) => {
    const check = voteChecks[i]
    const signed = check?.ok === true ? 'signature checked' : `FAIL ${check?.detail ?? 'not checked'}`
    return item(`${v.body.peerId} ${v.agrees ? 'agreed' : 'dissented'}, output ${v.body.outputHash.slice(0, 16)}…, ${v.body.numericClass}: ${signed}`, check?.ok === true)
  }))
  const checks = result.checks.map(c => item(`${c.ok ? 'ok' : 'FAIL'} ${c.name}${c.detail !== undefined ? `: ${c.detail}` : ''}`, c.ok))
  if (outputsProblem !== undefined) checks.push(item(`FAIL outputs: ${outputsProblem}`, false))
  $('checks').replaceChildren(...checks)
}

async function verify (): Promise<void> {
  const text = $<HTMLTextAreaElement>('receipt-text').value
  const outputsText = $<HTMLTextAreaElement>('outputs-text').value.trim()
  let file: ReturnType<typeof parseReceiptOutputs> | undefined
  let outputsProblem: string | undefined
  if (outputsText !== '') {
    try {
      file = parseReceiptOutputs(outputsText)
    } catch (err) {
      outputsProblem = (err as Error).message
    }
  }
  const result = await verifyReceipt(text, undefined, { now: Date.now(), ...(file !== undefined ? { outputs: file.outputs } : {}) })
  if (file !== undefined && result.receipt !== undefined && file.jobId !== result.receipt.jobId) outputsProblem = `the outputs file is for job ${file.jobId}, the receipt for ${result.receipt.jobId}`
  show(result, outputsProblem)
}

/** A dropped or chosen file: a receipts outputs file goes to the outputs box, anything else to the receipt box. */
async function takeFiles (files: FileList | null | undefined): Promise<void> {
  for (const file of [...(files ?? [])]) {
    const text = await file.text()
    $<HTMLTextAreaElement>(text.includes('"crosscheck/receipt-outputs"') ? 'outputs-text' : 'receipt-text').value = text
  }
  await verify()
}

function fromFragment (): void {
  if (location.hash === '') return
  try {
    const { receipt, outputs } = readReceiptFragment(location.hash)
    if (receipt !== undefined) $<HTMLTextAreaElement>('receipt-text').value = receipt
    if (outputs !== undefined) $<HTMLTextAreaElement>('outputs-text').value = outputs
    void verify()
  } catch (err) {
    $('result').hidden = false
    $('verdict').textContent = `invalid: ${(err as Error).message}`
  }
}

$('verify').addEventListener('click', () => { void verify() })
$<HTMLInputElement>('files').addEventListener('change', (evt) => { void takeFiles((evt.target as HTMLInputElement).files) })
document.body.addEventListener('dragover', (evt) => { evt.preventDefault() })
document.body.addEventListener('drop', (evt) => { evt.preventDefault(); void takeFiles(evt.dataTransfer?.files) })
window.addEventListener('hashchange', fromFragment)
fromFragment()
