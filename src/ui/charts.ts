/**
 * Small live SVG charts for the contributor page: one bar or line per time
 * bucket, with the latest value as a label. No chart library: a few dozen
 * lines of SVG are enough and keep the page light.
 */
import type { MetricsSeries } from '../core/metrics.js'

const NS = 'http://www.w3.org/2000/svg'
const W = 240
const H = 60

function el<K extends keyof SVGElementTagNameMap> (name: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  return e
}

export interface ChartSpec {
  title: string
  /** Value of a bucket, or null when there is nothing to show. */
  value: (b: MetricsSeries['buckets'][number], bucketMs: number) => number | null
  format: (v: number) => string
  kind: 'bars' | 'line'
  /** Fixed top of the scale (e.g. 1 for a rate). @default the series' maximum */
  max?: number
}

/** Draws `series` into `host` (replacing what was there). */
export function drawChart (host: Element, series: MetricsSeries, spec: ChartSpec): void {
  const values = series.buckets.map(b => spec.value(b, series.bucketMs))
  const present = values.filter((v): v is number => v != null)
  const max = spec.max ?? Math.max(1e-9, ...present)
  const n = values.length
  const step = W / Math.max(1, n)
  const svg = el('svg', { viewBox: `0 0 ${W} ${H + 16}`, width: W, height: H + 16, role: 'img', 'aria-label': spec.title })
  svg.append(el('line', { x1: 0, y1: H, x2: W, y2: H, stroke: '#9bb', 'stroke-width': 1 }))
  if (spec.kind === 'bars') {
    values.forEach((v, i) => {
      if (v == null || v <= 0) return
      const h = (v / max) * (H - 2)
      svg.append(el('rect', { x: i * step + 1, y: H - h, width: Math.max(1, step - 2), height: h, fill: '#1b4d3e' }))
    })
  } else {
    const pts = values.map((v, i) => (v == null ? null : [(i + 0.5) * step, H - (v / max) * (H - 2)])).filter((p): p is number[] => p != null)
    if (pts.length > 1) svg.append(el('polyline', { points: pts.map(p => p.join(',')).join(' '), fill: 'none', stroke: '#1b4d3e', 'stroke-width': 2 }))
    // a dot per bucket with data, so a lone value shows too
    for (const [x, y] of pts) svg.append(el('circle', { cx: x, cy: y, r: 2, fill: '#1b4d3e' }))
  }
  const last = [...values].reverse().find((v): v is number => v != null)
  const label = el('text', { x: 0, y: H + 13, 'font-size': 11, fill: '#1d2521' })
  label.textContent = `${spec.title}: ${last != null ? spec.format(last) : '–'}`
  svg.append(label)
  host.replaceChildren(svg)
}

export const CHARTS: ChartSpec[] = [
  { title: 'jobs / min', kind: 'bars', value: (b, ms) => (b.served + b.requested) * (60_000 / ms), format: v => v.toFixed(0) },
  { title: 'latency', kind: 'line', value: b => b.meanMs, format: v => `${v.toFixed(0)} ms` },
  { title: 'agreement', kind: 'line', max: 1, value: b => b.agreement, format: v => `${(v * 100).toFixed(0)}%` }
]
