/**
 * The bench's SVG chart (hand-written SVG: no charting dependency):
 * left, the mean latency of a warm verified job per stage, one stacked bar
 * per model; right, jobs per second against the number of contributing peers.
 */
import { STAGES } from './stats.js'
import type { StageKey } from './stats.js'

export interface ChartInput {
  title: string
  /** One bar per model: mean ms per stage, and the slowest replica's compute for reference. */
  latency: Array<{ label: string, stages: Partial<Record<StageKey, number>> }>
  /** Browser-only points, and points with a Node worker in the mix. */
  throughput: Array<{ peers: number, jobsPerSecond: number, node: boolean, label?: string }>
}

const COLORS: Record<StageKey, string> = {
  requesterModel: '#8c564b',
  requesterQueue: '#c49c94',
  inputTransfer: '#1f77b4',
  workerChecks: '#aec7e8',
  prepare: '#ffbb78',
  provisioning: '#ff7f0e',
  workerQueue: '#ffbb78',
  compute: '#2ca02c',
  runtimeIo: '#98df8a',
  signing: '#d62728',
  responseTransfer: '#17becf',
  voteVerification: '#ff9896',
  tally: '#9467bd',
  receipt: '#c5b0d5',
  store: '#7f7f7f'
}

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function niceMax (x: number): number {
  if (!(x > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(x))
  return [1, 2, 2.5, 5, 10].map(m => m * p).find(v => v >= x) ?? 10 * p
}

function ticks (max: number, n = 5): number[] {
  return Array.from({ length: n + 1 }, (_, i) => (max * i) / n)
}

function fmt (x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1).replace(/\.0$/, '') : x.toFixed(2).replace(/\.?0+$/, '')
}

export function renderChart (input: ChartInput): string {
  const W = 1100
  const H = 470
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`)
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(input.title)}</text>`)

  // ---- left: stacked latency bars ----------------------------------------
  const L = { x: 120, y: 60, w: 500, h: 40 * Math.max(1, input.latency.length) }
  out.push(`<text x="${L.x}" y="${L.y - 14}" font-weight="600">Warm verified job (k=3, quorum 2): mean ms per stage</text>`)
  const totals = input.latency.map(b => Object.values(b.stages).reduce((a, v) => a + Math.max(0, v ?? 0), 0))
  const lmax = niceMax(Math.max(1, ...totals))
  for (const t of ticks(lmax)) {
    const x = L.x + (t / lmax) * L.w
    out.push(`<line x1="${x}" y1="${L.y}" x2="${x}" y2="${L.y + L.h}" stroke="#eee"/>`)
    out.push(`<text x="${x}" y="${L.y + L.h + 14}" text-anchor="middle" fill="#555">${fmt(t)}</text>`)
  }
  out.push(`<text x="${L.x + L.w / 2}" y="${L.y + L.h + 30}" text-anchor="middle" fill="#555">ms</text>`)
  input.latency.forEach((bar, i) => {
    const y = L.y + i * 40 + 8
    out.push(`<text x="${L.x - 8}" y="${y + 16}" text-anchor="end">${esc(bar.label)}</text>`)
    let x = L.x
    for (const { key, label } of STAGES) {
      const v = Math.max(0, bar.stages[key] ?? 0)
      if (v <= 0) continue
      const w = (v / lmax) * L.w
      out.push(`<rect x="${x.toFixed(2)}" y="${y}" width="${Math.max(0.5, w).toFixed(2)}" height="24" fill="${COLORS[key]}"><title>${esc(`${bar.label} · ${label}: ${fmt(v)} ms`)}</title></rect>`)
      x += w
    }
    out.push(`<text x="${(x + 6).toFixed(2)}" y="${y + 16}" fill="#333">${fmt(totals[i])} ms</text>`)
  })
  // legend
  const ly = L.y + L.h + 48
  STAGES.forEach(({ key, label }, i) => {
    const col = i % 3
    const row = Math.floor(i / 3)
    const x = 20 + col * 200
    const y = ly + row * 18
    out.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLORS[key]}"/><text x="${x + 18}" y="${y}">${esc(label)}</text>`)
  })

  // ---- right: throughput ---------------------------------------------------
  const R = { x: 740, y: 60, w: 320, h: 300 }
  out.push(`<text x="${R.x}" y="${R.y - 14}" font-weight="600">Throughput: jobs/s (1 replica each) vs peers</text>`)
  const pts = input.throughput
  const xmax = Math.max(1, ...pts.map(p => p.peers))
  const ymax = niceMax(Math.max(1, ...pts.map(p => p.jobsPerSecond)))
  const px = (p: number): number => R.x + (p / xmax) * R.w
  const py = (v: number): number => R.y + R.h - (v / ymax) * R.h
  for (const t of ticks(ymax)) {
    out.push(`<line x1="${R.x}" y1="${py(t)}" x2="${R.x + R.w}" y2="${py(t)}" stroke="#eee"/>`)
    out.push(`<text x="${R.x - 6}" y="${py(t) + 4}" text-anchor="end" fill="#555">${fmt(t)}</text>`)
  }
  for (const p of [...new Set(pts.map(q => q.peers))]) out.push(`<text x="${px(p)}" y="${R.y + R.h + 14}" text-anchor="middle" fill="#555">${p}</text>`)
  out.push(`<line x1="${R.x}" y1="${R.y + R.h}" x2="${R.x + R.w}" y2="${R.y + R.h}" stroke="#999"/><line x1="${R.x}" y1="${R.y}" x2="${R.x}" y2="${R.y + R.h}" stroke="#999"/>`)
  out.push(`<text x="${R.x + R.w / 2}" y="${R.y + R.h + 30}" text-anchor="middle" fill="#555">contributing peers</text>`)
  const browser = pts.filter(p => !p.node).sort((a, b) => a.peers - b.peers)
  if (browser.length > 1) out.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${browser.map(p => `${px(p.peers).toFixed(1)},${py(p.jobsPerSecond).toFixed(1)}`).join(' ')}"/>`)
  for (const p of pts) {
    const c = p.node ? '#d62728' : '#1f77b4'
    out.push(p.node
      ? `<rect x="${(px(p.peers) - 5).toFixed(1)}" y="${(py(p.jobsPerSecond) - 5).toFixed(1)}" width="10" height="10" fill="${c}"><title>${esc(`${p.label ?? ''} ${fmt(p.jobsPerSecond)} jobs/s`)}</title></rect>`
      : `<circle cx="${px(p.peers).toFixed(1)}" cy="${py(p.jobsPerSecond).toFixed(1)}" r="4" fill="${c}"><title>${esc(`${p.peers} browser peers: ${fmt(p.jobsPerSecond)} jobs/s`)}</title></circle>`)
    out.push(`<text x="${(px(p.peers) + 7).toFixed(1)}" y="${(py(p.jobsPerSecond) - 6).toFixed(1)}" fill="${c}" font-size="11">${fmt(p.jobsPerSecond)}</text>`)
  }
  out.push(`<circle cx="${R.x + 10}" cy="${R.y + R.h + 52}" r="4" fill="#1f77b4"/><text x="${R.x + 20}" y="${R.y + R.h + 56}">browser peers only</text>`)
  out.push(`<rect x="${R.x + 5}" y="${R.y + R.h + 65}" width="10" height="10" fill="#d62728"/><text x="${R.x + 20}" y="${R.y + R.h + 74}">with one Node worker (counted as a peer)</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
