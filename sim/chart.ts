/**
 * A small dependency-free SVG line chart: wrong answers accepted per job
 * (log scale) against compute per job, one series per setting.
 */

export interface Series {
  label: string
  colour: string
  /** Dashed line (e.g. "still standing after settlement"). */
  dashed?: boolean
  /** `upper`: for a zero, the 95 % upper bound; drawn there as a hollow point. */
  points: Array<{ x: number, y: number, upper?: number, note?: string }>
}

export interface ChartInput {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  /** Horizontal goal lines. */
  goals?: Array<{ y: number, label: string }>
  /** Vertical goal line. */
  xGoal?: { x: number, label: string }
  /** Bottom of the y axis (a zero without `upper` is drawn there). */
  yZero: number
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function lineChart (c: ChartInput): string {
  const W = 760
  const H = 460
  const m = { l: 78, r: 190, t: 44, b: 56 }
  const xs = c.series.flatMap((s) => s.points.map((p) => p.x)).concat(c.xGoal === undefined ? [] : [c.xGoal.x])
  const xMin = Math.min(1, ...xs)
  const xMax = Math.max(...xs) * 1.05
  const yMinLog = Math.log10(c.yZero)
  const ys = c.series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => y > 0)
  const yMaxLog = Math.ceil(Math.log10(Math.max(1e-2, ...ys)))
  const px = (x: number): number => m.l + (x - xMin) / (xMax - xMin) * (W - m.l - m.r)
  const py = (y: number): number => {
    const l = Math.log10(y > 0 ? Math.max(y, c.yZero) : c.yZero)
    return m.t + (yMaxLog - l) / (yMaxLog - yMinLog) * (H - m.t - m.b)
  }
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`)
  // grid and axes
  for (let l = Math.ceil(yMinLog); l <= yMaxLog; l++) {
    const y = py(10 ** l)
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#ddd"/>`)
    out.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">1e${l}</text>`)
  }
  const step = (xMax - xMin) > 2 ? 0.5 : 0.1
  for (let x = Math.ceil(xMin / step) * step; x <= xMax + 1e-9; x += step) {
    const X = px(x)
    out.push(`<line x1="${X}" x2="${X}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`)
    out.push(`<text x="${X}" y="${H - m.b + 16}" text-anchor="middle">${x.toFixed(step < 0.5 ? 1 : 1)}×</text>`)
  }
  out.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="black"/>`)
  out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="black"/>`)
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 14}" text-anchor="middle">${esc(c.xLabel)}</text>`)
  out.push(`<text transform="translate(18 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`)
  for (const g of c.goals ?? []) {
    const y = py(g.y)
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#c00" stroke-dasharray="2 3"/>`)
    out.push(`<text x="${W - m.r - 4}" y="${y - 4}" text-anchor="end" fill="#c00">${esc(g.label)}</text>`)
  }
  if (c.xGoal !== undefined) {
    const x = px(c.xGoal.x)
    out.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#c00" stroke-dasharray="2 3"/>`)
    out.push(`<text x="${x + 4}" y="${m.t + 12}" fill="#c00">${esc(c.xGoal.label)}</text>`)
  }
  // series
  c.series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x).map((p) => ({ ...p, hollow: p.y === 0 && p.upper !== undefined, y: p.y === 0 && p.upper !== undefined ? p.upper : p.y }))
    const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')
    out.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`)
    for (const p of pts) {
      out.push(p.hollow
        ? `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="4" fill="white" stroke="${s.colour}" stroke-width="2"/>`
        : `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${s.colour}"/>`)
      if (p.note !== undefined) out.push(`<text x="${(px(p.x) + 5).toFixed(1)}" y="${(py(p.y) - 6).toFixed(1)}" font-size="10" fill="${s.colour}">${esc(p.note)}</text>`)
    }
    const ly = m.t + 16 + i * 20
    out.push(`<line x1="${W - m.r + 12}" x2="${W - m.r + 40}" y1="${ly}" y2="${ly}" stroke="${s.colour}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`)
    out.push(`<text x="${W - m.r + 46}" y="${ly + 4}">${esc(s.label)}</text>`)
  })
  out.push(`<circle cx="${W - m.r + 26}" cy="${m.t + 16 + c.series.length * 20}" r="4" fill="white" stroke="#555" stroke-width="2"/>`)
  out.push(`<text x="${W - m.r + 46}" y="${m.t + 20 + c.series.length * 20}">none seen: drawn at</text>`)
  out.push(`<text x="${W - m.r + 46}" y="${m.t + 34 + c.series.length * 20}">the 95 % upper bound</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
