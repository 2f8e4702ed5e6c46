/**
 * Issue 7's goals against the measured figures (pure: reads the results
 * object bench.ts builds), and the plain-text table `npm run bench` prints.
 * `holds` is null where a goal is a property of the code that this bench does
 * not exercise; its note says what the code does.
 */
import { STAGES } from './stats.js'
import { receiptMarkdown } from './receipt.js'

export interface GoalRow {
  goal: string
  figure: string
  measured: string
  target: string
  holds: boolean | null
  note?: string
}

/**
 * What the options sweep and the profile showed (issue 15 item 6), kept here
 * so that bench/results.md carries it beside the figures it reads.
 */
export const RUNTIME_FINDING = [
  '**Finding (options sweep and profile).** No session option made onnxruntime-web measurably faster on any catalog model: enableCpuMemArena, enableMemPattern (alone or both, as native has them), executionMode parallel and graph optimisation levels stay within the run-to-run noise of this 2-core machine, so the worker keeps onnxruntime-web\'s unset behaviour, now written out in `DEFAULT_SESSION_OPTIONS` (workers/session-options.ts).',
  'graphOptimizationLevel basic and freeDimensionOverrides change ocr-rec\'s output bytes (a different Conv/MatMul fusion or shape plan), so they would need their own numeric class and are not used; every other option gives the default\'s bytes on every model.',
  'The JSEP build (needed for WebGPU) is slower than the plain WASM build on the wasm backend (up to 2–3× on the OCR models) with the same bytes, so CPU-only workers keep loading `onnxruntime-web/wasm`. Two threads beat one on the OCR models; the tiny MLP/CNN run in a few µs either way.',
  'Why the OCR models stay 3–4× slower than native: the profile puts 80–90% of the gap in Conv. onnxruntime-node runs these Convs as MLAS NCHWc kernels (its ReorderInput/ReorderOutput nodes: blocked layout, AVX2/AVX-512 FMA, 8–16 floats a lane), which onnxruntime-web has no build of; WASM SIMD runs them as im2col + a 128-bit (4-float) SGEMM, ~8–25× slower per Conv. The element-wise Add/Mul/Clip of the hard-swish blocks are 2–8× slower (4-float lanes, no fusion into Conv). No session option reaches that kernel choice: closing the gap needs WebGPU, a relaxed-SIMD/FMA wasm build, or fewer/cheaper Convs in the model.'
].join(' ')

const ms = (x: number | undefined): string => (x == null || !Number.isFinite(x) ? '–' : `${x >= 100 ? x.toFixed(0) : x.toFixed(1)} ms`)
const x2 = (x: number | undefined): string => (x == null || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}×`)

export function goalRows (r: Record<string, any>): GoalRow[] {
  const rows: GoalRow[] = []
  const jobs = r.jobs?.perModel as Record<string, any> | undefined
  for (const id of ['mlp', 'ocr-det', 'ocr-rec']) {
    const j = jobs?.[id]
    if (j == null) continue
    rows.push({
      goal: '1 overhead',
      figure: `${id}: verified latency − slowest replica's compute (warm, k=3 q=2, median)`,
      measured: `${ms(j.overhead.median)} (job ${ms(j.total.median)}, compute ${ms(j.slowestCompute.median)})`,
      target: id === 'mlp' ? '≤ 20 ms' : '≤ 50 ms',
      holds: j.overhead.median <= (id === 'mlp' ? 20 : 50)
    })
  }
  if (r.ocr != null) {
    rows.push({
      goal: '1 OCR sample',
      figure: 'OCR sample read through verified jobs, warm (median)',
      measured: `${ms(r.ocr.verified.median)} (local ${ms(r.ocr.local.median)})`,
      target: `≤ 1.5 × local + 100 ms = ${ms(r.ocr.budget)}`,
      holds: r.ocr.verified.median <= r.ocr.budget
    })
  }
  if (jobs != null) {
    const sources = [...new Set(Object.values(jobs).flatMap((j: any) => j.cold?.provisioningSource ?? []))]
    rows.push({
      goal: '2 provisioning',
      figure: 'cold job: where browser workers took a catalog model from',
      measured: sources.length > 0 ? sources.join(', ') : 'no fetch seen',
      target: 'http (the site) before peers',
      holds: sources.length > 0 ? sources.every(s => s === 'http') : null
    })
    // the cold job's critical replica: fetching and loading belong in `prepare` (before the
    // job, off its answer clock); what remains in `provisioning` runs on the clock
    const colds = Object.entries(jobs).filter(([, j]: [string, any]) => j.cold != null) as Array<[string, any]>
    const phase = colds.map(([id, j]) => `${id} ${ms(j.cold.stages?.prepare ?? 0)} before the job, ${ms(j.cold.stages?.provisioning)} inside it`).join('; ')
    rows.push({
      goal: '2 provisioning',
      figure: 'model provisioning never counts against a replica\'s answer deadline (cold job: prepare phase vs on the clock)',
      measured: phase,
      target: 'fetch and load in the prepare phase; under 50 ms of it on the clock',
      holds: colds.length > 0 ? colds.every(([, j]) => (j.cold.stages?.prepare ?? 0) > 0 && (j.cold.stages?.provisioning ?? Infinity) < 50) : null
    })
  }
  if (r.transfer != null && r.transfer.mbPerSecond != null) {
    const t = r.transfer
    const busy = (x: number | undefined): string => (x == null || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(0)}%`)
    rows.push({
      goal: '2 transfer',
      figure: `peer-to-peer model transfer, one holder (${(t.size / 1024 / 1024).toFixed(1)} MiB over WebRTC, median of ${t.rounds})`,
      measured: `${t.mbPerSecond.toFixed(1)} MB/s (a job provisioning from one holder: ${t.provisioned.mbPerSecond.toFixed(1)} MB/s from the job's start to the last chunk)`,
      target: '≥ 20 MB/s',
      holds: t.mbPerSecond >= 20
    })
    rows.push({
      goal: '2 transfer',
      figure: 'chunks from three holders at once, against one (interleaved)',
      measured: `${t.threeHolderMbPerSecond.toFixed(1)} MB/s: ${x2(t.ratio)} (Chromium busy ${t.chromiumCores?.oneHolder?.toFixed(2) ?? '–'} / ${t.chromiumCores?.threeHolders?.toFixed(2) ?? '–'} of ${t.cores} cores; fetcher main thread ${busy(t.fetcherMainThread?.oneHolder)} / ${busy(t.fetcherMainThread?.threeHolders)})`,
      target: '≥ 1.8× one holder',
      holds: t.ratio >= 1.8
    })
  }
  for (const [id, row] of Object.entries((r.runtime ?? {}) as Record<string, any>)) {
    if (id === 'options' || id === 'profile') continue
    for (const t of ['t1', 't2']) {
      const c = row[t]
      if (c == null) continue
      rows.push({
        goal: '3 runtime',
        figure: `${id}: WASM (${c.webThreads}t) / onnxruntime-node (${t.slice(1)}t), median`,
        measured: `${x2(c.ratio)} (${ms(c.web.median)} vs ${ms(c.node.median)})`,
        target: '≤ 1.5×',
        holds: c.ratio <= 1.5
      })
    }
  }
  const crowds = (r.crowd?.crowds ?? []) as any[]
  const pct = (x: number | undefined): string => (x == null || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(2)}%`)
  const sec = (x: number | undefined): string => (x == null || !Number.isFinite(x) ? '–' : `${(x / 1000).toFixed(2)} s`)
  for (const c of crowds) {
    rows.push({
      goal: '4 crowd join',
      figure: `${c.pages} visitors, one every ${c.arrivalMs} ms: page load → "contributing" (p50 / p95 / max)`,
      measured: `${sec(c.joinAfterLoad.median)} / ${sec(c.joinAfterLoad.p95)} / ${sec(c.joinAfterLoad.max)} (${c.joined} of ${c.pages} joined)`,
      target: '≤ 3 s each',
      holds: c.joined === c.pages && c.joinAfterLoad.max <= 3000
    })
    const accepted = (c.jobs as string[]).filter(j => j === 'accepted').length
    rows.push({
      goal: '4 crowd jobs',
      figure: `${c.pages} visitors: verified CLI jobs (k=3, q=2) while they stay`,
      measured: `${accepted} of ${c.jobs.length} accepted${accepted < c.jobs.length ? ` (${(c.jobs as string[]).filter(j => j !== 'accepted').join(', ')})` : ''}`,
      target: 'all accepted',
      holds: c.jobs.length > 0 && accepted === c.jobs.length
    })
    rows.push({
      goal: '4 crowd links',
      figure: `${c.pages} visitors: direct links per page (max; RTCPeerConnections created, max)`,
      measured: `${c.links.max} (created ${c.links.createdMax})`,
      target: `≤ ${c.links.bound}`,
      holds: c.links.max <= c.links.bound
    })
    if (c.idle != null) {
      rows.push({
        goal: '4 crowd idle',
        figure: `${c.pages} visitors: idle tab (renderer CPU incl. workers, ${c.idle.seconds.toFixed(0)} s; browser process share ${pct(c.idle.browserProcessPerTabCores)})`,
        measured: `${pct(c.idle.perTabCores)} of a core; ${(c.idle.bytesPerTabPerSecond.sent / 1024).toFixed(3)} KiB/s sent, ${(c.idle.bytesPerTabPerSecond.received / 1024).toFixed(3)} KiB/s received`,
        target: '≤ 1% of a core, ≤ 1 KiB/s',
        holds: c.idle.perTabCores <= 0.01 && c.idle.bytesPerTabPerSecond.sent <= 1024 && c.idle.bytesPerTabPerSecond.received <= 1024
      })
    }
  }
  const slopes = r.crowd?.slopes as Record<string, number> | undefined
  if (slopes != null && crowds.length >= 2) {
    const f = (x: number | undefined): string => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(2))
    rows.push({
      goal: '4 crowd slopes',
      figure: `log-log slope against N (${crowds.map(c => c.pages).join(', ')}): join p50, links max, idle CPU, idle bytes per tab`,
      measured: `${f(slopes.joinMedian)}, ${f(slopes.linksMax)}, ${f(slopes.idleCpu)}, ${f(slopes.idleBytes)}`,
      target: 'each ≤ 0.2 (flat in N)',
      holds: [slopes.joinMedian, slopes.linksMax, slopes.idleCpu, slopes.idleBytes].every(x => Number.isFinite(x) && x <= 0.2)
    })
  }
  const tp = (r.throughput ?? []) as any[]
  if (tp.length > 0) {
    const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
    for (const p of tp.filter(p => (p.nodeWorkers ?? 0) === 0)) {
      rows.push({
        goal: '5 throughput',
        figure: `${p.browsers} browser peer${p.browsers === 1 ? '' : 's'}: MLP jobs/s (1 replica each)`,
        measured: `${p.jobsPerSecond.toFixed(1)} jobs/s (median ${ms(p.latency.median)}; requester main thread ${(100 * p.requesterMainThread).toFixed(0)}% busy)`,
        target: '(reference)',
        holds: null
      })
    }
    // Node workers: windows interleaved over rounds; medians per worker count
    const counts = [...new Set(tp.filter(p => (p.nodeWorkers ?? 0) > 0).map(p => p.nodeWorkers as number))].sort((a, b) => a - b)
    const byCount = counts.map(n => {
      const windows = tp.filter(p => p.nodeWorkers === n && p.browsers === 0 && p.paced == null)
      return { n, jobs: median(windows.map(p => p.jobsPerSecond)), main: median(windows.map(p => p.requesterMainThread)), all: windows.map(p => p.jobsPerSecond) }
    })
    for (const c of byCount) {
      rows.push({
        goal: '5 throughput',
        figure: `${c.n} Node worker${c.n === 1 ? '' : 's'}: MLP jobs/s (1 replica each), median of ${c.all.length} interleaved windows`,
        measured: `${c.jobs.toFixed(1)} jobs/s (windows ${c.all.map(x => x.toFixed(0)).join(' / ')}; requester main thread ${(100 * c.main).toFixed(0)}% busy)`,
        target: '(reference)',
        holds: null
      })
    }
    const four = byCount.find(c => c.n === 4)
    if (four != null) {
      rows.push({
        goal: '5 throughput',
        figure: 'requester page against 4 Node workers, k=1, as fast as it goes: MLP jobs/s and its main thread',
        measured: `${four.jobs.toFixed(1)} jobs/s, main thread ${(100 * four.main).toFixed(0)}% busy`,
        target: '≥ 150 jobs/s',
        holds: four.jobs >= 150
      })
    }
    // the same page paced at the target rate: how much of its main thread that rate takes
    const paced = tp.filter(p => p.paced != null && p.browsers === 0)
    if (paced.length > 0) {
      const rate = paced[0].paced as number
      const jobs = median(paced.map(p => p.jobsPerSecond))
      const main = median(paced.map(p => p.requesterMainThread))
      rows.push({
        goal: '5 throughput',
        figure: `requester page paced at ${rate} jobs/s against ${String(paced[0].nodeWorkers)} Node workers, k=1 (median of ${paced.length} interleaved windows)`,
        measured: `${jobs.toFixed(1)} jobs/s done, main thread ${(100 * main).toFixed(0)}% busy (windows ${paced.map(p => `${(100 * p.requesterMainThread).toFixed(0)}%`).join(' / ')}; ${paced.reduce((a, p) => a + (p.errors as number), 0)} errors)`,
        target: `≥ ${rate} jobs/s with the main thread < 50% busy`,
        holds: jobs >= 0.98 * rate && main < 0.5
      })
    }
    if (byCount.length >= 2) {
      const rising = byCount.every((c, i) => i === 0 || c.jobs > byCount[i - 1].jobs)
      rows.push({
        goal: '5 throughput',
        figure: `jobs/s rises with Node workers (${byCount.map(c => c.n).join(' → ')})`,
        measured: byCount.map(c => c.jobs.toFixed(1)).join(' → '),
        target: 'rising at each step',
        holds: rising
      })
    }
  }
  return rows
}

function pad (s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length)
}

export function formatTable (r: Record<string, any>): string {
  const rows = r.goals as GoalRow[]
  const lines: string[] = ['', `Crosscheck bench — ${String(r.date)} — ${String(r.machine?.cpus)} cores, load ${(r.machine?.loadavgAtStart ?? []).map((x: number) => x.toFixed(2)).join(' ')} → ${(r.machine?.loadavgAtEnd ?? []).map((x: number) => x.toFixed(2)).join(' ')}`, '']
  const w1 = Math.max(...rows.map(x => x.figure.length), 6)
  const w2 = Math.max(...rows.map(x => x.measured.length), 8)
  const w3 = Math.max(...rows.map(x => x.target.length), 4)
  lines.push(`${pad('figure', w1)}  ${pad('measured', w2)}  ${pad('goal', w3)}  holds`)
  lines.push('-'.repeat(w1 + w2 + w3 + 13))
  for (const x of rows) lines.push(`${pad(x.figure, w1)}  ${pad(x.measured, w2)}  ${pad(x.target, w3)}  ${x.holds == null ? '–' : x.holds ? 'yes' : 'NO'}`)
  const notes = rows.filter(x => x.note != null)
  if (notes.length > 0) lines.push('', ...notes.map(x => `note (${x.figure}): ${String(x.note)}`))
  const jobs = r.jobs?.perModel as Record<string, any> | undefined
  if (jobs != null) {
    lines.push('', 'warm verified job, mean ms per stage along the critical path (k=3, quorum 2):')
    const ids = Object.keys(jobs)
    lines.push(`${pad('stage', 22)}${ids.map(id => pad(id, 10)).join('')}  cold ${ids.join(' / ')}`)
    for (const { key, label } of STAGES) {
      lines.push(`${pad(label, 22)}${ids.map(id => pad((jobs[id].meanStages[key] ?? NaN).toFixed(2), 10)).join('')}  ${ids.map(id => (jobs[id].cold?.stages?.[key] ?? NaN).toFixed(1)).join(' / ')}`)
    }
    lines.push(`${pad('total (mean)', 22)}${ids.map(id => pad(jobs[id].total.mean.toFixed(2), 10)).join('')}  ${ids.map(id => (jobs[id].cold?.totalMs ?? NaN).toFixed(1)).join(' / ')}`)
  }
  return lines.join('\n') + '\n'
}

/**
 * The runtime options sweep as Markdown: one row per variant, one column per
 * model × threads, median ms and the ratio to onnxruntime-node; `≠` marks a
 * variant whose output bytes differ from the worker default's (it would need
 * its own numeric class), `*` the fastest byte-identical variant.
 */
export function optionsMarkdown (options: Record<string, any> | undefined): string[] {
  if (options == null) return []
  const ids = Object.keys(options)
  if (ids.length === 0) return []
  const threads = [1, 2]
  const variants: Array<[string, string]> = []
  for (const id of ids) for (const [v, label] of Object.entries(options[id].labels as Record<string, string>)) if (!variants.some(([x]) => x === v)) variants.push([v, label])
  const cols = ids.flatMap(id => threads.map(t => ({ id, t })))
  const f = (x: number | undefined): string => (x == null || !Number.isFinite(x) ? '–' : x >= 10 ? x.toFixed(1) : x.toFixed(2))
  const lines = [
    '',
    `onnxruntime-web session options, build and threads (median ms of ${String(options[ids[0]].runs)} runs per cell over ${String(options[ids[0]].batches)} interleaved batches; × = / onnxruntime-node at the same threads; ≠ = output bytes differ from the default's; * = fastest with the default's bytes):`,
    '',
    `| variant | ${cols.map(c => `${c.id} ${c.t}t`).join(' | ')} |`,
    `| --- | ${cols.map(() => '---:').join(' | ')} |`
  ]
  for (const [v, label] of variants) {
    const cells = cols.map(({ id, t }) => {
      const c = (options[id].cells as any[]).find(x => x.variant === v && x.threads === t)
      if (c == null) return 'n/a'
      const mark = `${c.identical === true ? '' : ' ≠'}${options[id].best?.[`t${t}`] === v ? ' *' : ''}`
      return `${f(c.web.median)} (${x2(c.ratio)})${mark}`
    })
    lines.push(`| ${v}: ${label.replace(/\|/g, '\\|')} | ${cells.join(' | ')} |`)
  }
  lines.push(`| onnxruntime-node | ${cols.map(({ id, t }) => f(options[id].node?.[`t${t}`]?.median)).join(' | ')} |`)
  return lines
}

/** The per-op profile (bench/profile.ts) as Markdown: where WASM's time goes, op type by op type. */
export function profileMarkdown (profile: Record<string, any> | undefined): string[] {
  if (profile == null) return []
  const lines = ['', 'Per-op profile, onnxruntime-web WASM SIMD (in Node, same wasm binary) vs onnxruntime-node, 1 thread, ms per run (profiling on, so slower than above); the op types with the largest gap:', '', '| model | run (web / native) | op type | web | native | × | share of the gap |', '| --- | --- | --- | ---: | ---: | ---: | ---: |']
  for (const [id, p] of Object.entries(profile)) {
    for (const g of (p.gap as any[]).slice(0, 3)) {
      lines.push(`| ${id} | ${ms(p.web.runMs)} / ${ms(p.node.runMs)} | ${String(g.op)} (${Math.round(p.web.nodes[g.op] ?? 0)} / ${Math.round(p.node.nodes[g.op] ?? 0)} nodes) | ${ms(g.webMs)} | ${ms(g.nodeMs)} | ${x2(g.ratio)} | ${(100 * g.shareOfGap).toFixed(0)}% |`)
    }
  }
  return lines
}

/** The goals table and the per-stage table as Markdown (bench/results.md; the README's Benchmarks section quotes it). */
export function formatMarkdown (r: Record<string, any>): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|')
  const rows = r.goals as GoalRow[]
  const load = (xs: number[] | undefined): string => (xs ?? []).map(x => x.toFixed(1)).join(' / ')
  const lines: string[] = [
    `Run of ${String(r.date).slice(0, 16).replace('T', ' ')} UTC, ${String(r.machine?.cpus)} cores (${String(r.machine?.model ?? 'cpu')}), Chromium ${String(r.machine?.chromium ?? '?')}, ${String(r.machine?.node)}; load average (1/5/15 min) ${load(r.machine?.loadavgAtStart)} at start, ${load(r.machine?.loadavgAtEnd)} at end; ${Math.round(r.seconds ?? 0)} s.`,
    '',
    '| goal | figure | measured | target | holds |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(x => `| ${x.goal} | ${cell(x.figure)} | ${cell(x.measured)} | ${cell(x.target)} | ${x.holds == null ? '–' : x.holds ? 'yes' : '**no**'} |`)
  ]
  const jobs = r.jobs?.perModel as Record<string, any> | undefined
  if (jobs != null) {
    const ids = Object.keys(jobs)
    lines.push('', 'Warm verified job (k=3, quorum 2), mean ms per stage along the critical path; cold = the first job of each model (workers fetch it):', '')
    lines.push(`| stage | ${ids.join(' | ')} | ${ids.map(id => `${id} cold`).join(' | ')} |`)
    lines.push(`| --- | ${ids.map(() => '---:').join(' | ')} | ${ids.map(() => '---:').join(' | ')} |`)
    const f = (x: number | undefined): string => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(1))
    for (const { key, label } of STAGES) lines.push(`| ${label} | ${ids.map(id => f(jobs[id].meanStages[key])).join(' | ')} | ${ids.map(id => f(jobs[id].cold?.stages?.[key])).join(' | ')} |`)
    lines.push(`| **total** | ${ids.map(id => f(jobs[id].total.mean)).join(' | ')} | ${ids.map(id => f(jobs[id].cold?.totalMs)).join(' | ')} |`)
  }
  lines.push(...receiptMarkdown(r.receipt))
  lines.push(...optionsMarkdown(r.runtime?.options), ...profileMarkdown(r.runtime?.profile))
  if (r.runtime?.options != null) lines.push('', RUNTIME_FINDING)
  return lines.join('\n') + '\n'
}
