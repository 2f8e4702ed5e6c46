/**
 * The trust simulation: `npm run sim [-- --quick] [--jobs 20000] [--seeds 6]
 * [--workers 2] [--out sim/results.json] [--svg sim/curve.svg] [--identity-cost 100]`,
 * or only the relay-sample comparison: `npm run sim -- --pool [--seeds 3]
 * [--sample-size 16] [--refresh-jobs 50] [--omit-share 1]`.
 *
 * Every run drives the production code (sim/world.ts). Prints markdown:
 * 1. the targets of issue 9 against their goals, at the recommended settings;
 * 2. every attacker kind at f = 0.2, seeds 1-6 pooled, and per seed;
 * 3. production defaults against the recommended settings;
 * 4. the frontier: wrong answers accepted against compute, sweeping the
 *    recheck rate and probation (also drawn to --svg);
 * 5. a backend that is wrong the same way on every peer;
 * 6. the settlement hook (remembering every job for re-verification).
 * 7. what the identity puzzle buys: whitewashers' cost per wrong answer with it.
 * --pool instead: the requester drawing from the whole online crowd, from a
 * rotating relay sample, and from one where one of two relays omits honest
 * peers (ids pool/<arm>/<attackers>/<seed>).
 * Runs are spread over --workers child processes; results go to --out, where
 * the sections this run did not run (an id's first segment) are kept.
 */
import { fork } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { lineChart } from './chart.js'
import { ATTACKER_KINDS, DEFAULT_SAMPLE_REFRESH_JOBS, defaultOptions, runSim } from './world.js'
import type { Series } from './chart.js'
import type { SimOptions, SimResult } from './world.js'

interface Task { id: string, options: SimOptions }

function parseArgs (argv: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`)
    const next = argv[i + 1]
    if (next === undefined || next.startsWith('--')) out[a.slice(2)] = 'true'
    else { out[a.slice(2)] = next; i++ }
  }
  return out
}

async function runAll (tasks: Task[], workers: number): Promise<Map<string, SimResult>> {
  const results = new Map<string, SimResult>()
  const queue = [...tasks]
  let done = 0
  const t0 = Date.now()
  await Promise.all(Array.from({ length: Math.min(workers, tasks.length) }, async () => {
    const child = fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: process.execArgv })
    try {
      for (let task = queue.shift(); task !== undefined; task = queue.shift()) {
        const t = task
        const r = await new Promise<SimResult>((resolve, reject) => {
          const onExit = (code: number | null): void => { reject(new Error(`simulation child exited with ${code}`)) }
          const onMessage = (m: { id: string, result: SimResult }): void => {
            if (m.id !== t.id) return
            child.off('message', onMessage)
            child.off('exit', onExit)
            resolve(m.result)
          }
          child.on('message', onMessage)
          child.once('exit', onExit)
          child.send(t)
        })
        results.set(t.id, r)
        done++
        process.stderr.write(`\r  ${done}/${tasks.length} runs, ${Math.round((Date.now() - t0) / 1000)} s`)
      }
    } finally {
      child.kill()
    }
  }))
  process.stderr.write('\n')
  return results
}

/** Sums over seeds. */
interface Pooled {
  runs: number
  jobs: number
  hours: number
  wrongAccepted: number
  wrongStanding: number
  retracted: number
  falseRetractions: number
  honestRejected: number
  honestVotes: number
  honestFlagged: number
  compute: number
  failed: number
  attackerRight: number
  attackerWrong: number
  attackerStanding: number
  freshIdentities: number
  flagged: number
  identities: number
  wrongWhy: Record<string, number>
}

function pool (rs: SimResult[]): Pooled {
  const p: Pooled = { runs: rs.length, jobs: 0, hours: 0, wrongAccepted: 0, wrongStanding: 0, retracted: 0, falseRetractions: 0, honestRejected: 0, honestVotes: 0, honestFlagged: 0, compute: 0, failed: 0, attackerRight: 0, attackerWrong: 0, attackerStanding: 0, freshIdentities: 0, flagged: 0, identities: 0, wrongWhy: {} }
  for (const r of rs) {
    p.jobs += r.realJobs
    p.hours += r.hours
    p.wrongAccepted += r.wrongAccepted
    p.wrongStanding += r.wrongStanding
    p.retracted += r.retracted
    p.falseRetractions += r.falseRetractions
    p.honestRejected += r.honestRejected
    p.honestVotes += r.honestVotes
    p.honestFlagged += r.honestFlagged
    p.compute += r.computePerJob * r.realJobs
    p.failed += Object.values(r.failed).reduce((a, b) => a + b, 0)
    p.attackerRight += r.attackerRightVotes
    p.attackerWrong += r.attackerWrongAccepted
    p.attackerStanding += r.attackerWrongStanding
    p.freshIdentities += r.freshIdentities
    for (const [k, s] of Object.entries(r.byKind)) {
      if (k === 'honest' || k === 'fault' || k === 'none') continue
      p.flagged += s.flagged
      p.identities += s.identities
    }
    for (const [k, n] of Object.entries(r.wrongWhy)) p.wrongWhy[k] = (p.wrongWhy[k] ?? 0) + n
  }
  p.compute /= Math.max(1, p.jobs)
  return p
}

/** "n / N (rate)", and when n = 0 the 95 % upper bound 3/N. */
const rate = (n: number, d: number): string => (n === 0 ? `0 / ${d} (< ${(3 / d).toExponential(0)})` : `${n} / ${d} (${(n / d).toExponential(1)})`)
const per = (a: number, b: number): string => (b === 0 ? '∞ (none accepted)' : (a / b).toFixed(0))

/**
 * One-sided p that `b` of `a + b` events or more fall on the second arm when
 * both arms have the same rate and as many jobs (binomial, 1/2). Wrong
 * accepts cluster (one liar, until flagged), so this overstates how
 * surprising a rise is: a harsh test for the second arm.
 */
function pAtLeast (a: number, b: number): number {
  const n = a + b
  if (b === 0) return 1
  let logC = 0 // log C(n, k), from k = 0
  let p = 0
  for (let k = 0; k <= n; k++) {
    if (k > 0) logC += Math.log((n - k + 1) / k)
    if (k >= b) p += Math.exp(logC - n * Math.LN2)
  }
  return Math.min(1, p)
}

/** Writes `results` to `out`, keeping the entries of sections (an id's first segment) this run did not run. */
function writeResults (out: string, results: Map<string, SimResult>, order: 'kept-first' | 'fresh-first'): void {
  const section = (id: string): string => id.split('/')[0]
  const ran = new Set([...results.keys()].map(section))
  const kept = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Array<{ id: string }>).filter((e) => !ran.has(section(e.id))) : []
  const fresh = [...results.entries()].map(([id, r]) => ({ id, ...r }))
  writeFileSync(out, JSON.stringify(order === 'kept-first' ? [...kept, ...fresh] : [...fresh, ...kept], null, 1) + '\n')
}

/**
 * The requester as the relay redesign has it: its replicas come from a
 * uniform random sample of live peers, replaced every `--refresh-jobs` real
 * jobs, against the whole online crowd at the same seeds and attackers; and
 * the sample with one of its two relays omitting honest peers.
 */
async function poolSection (args: Record<string, string>, workers: number): Promise<void> {
  const quick = args.quick === 'true'
  const jobs = Number(args.jobs ?? (quick ? 8000 : 20_000))
  const seeds = Array.from({ length: Number(args.seeds ?? (quick ? 1 : 3)) }, (_, i) => i + 1)
  const sampleSize = Number(args['sample-size'] ?? 16)
  const sampleRefreshJobs = Number(args['refresh-jobs'] ?? DEFAULT_SAMPLE_REFRESH_JOBS)
  const omitHonestShare = Number(args['omit-share'] ?? 1)
  const out = args.out ?? 'sim/results.json'
  const RECOMMENDED = { adaptive: { newcomerShare: 0.05, floorRecheck: 0.1, probation: 10 } }
  const populations = [...ATTACKER_KINDS, 'mixed', 'strategic'] as const
  const arms = [
    { id: 'whole', label: 'whole crowd', over: {} },
    { id: 'sample', label: `sample ${sampleSize}`, over: { sampleSize, sampleRefreshJobs } },
    { id: 'omit', label: `sample ${sampleSize}, a relay omitting`, over: { sampleSize, sampleRefreshJobs, omitHonestShare } },
    { id: 'keep', label: `sample ${sampleSize} keeping established (product)`, over: { sampleSize, sampleRefreshJobs, keepEstablished: true } }
  ] as const
  const tasks: Task[] = []
  for (const seed of seeds) {
    for (const attacker of populations) {
      for (const arm of arms) tasks.push({ id: `pool/${arm.id}/${attacker}/${seed}`, options: defaultOptions({ jobs, online: 100, f: 0.2, ...RECOMMENDED, attacker, seed, ...arm.over }) })
    }
  }
  console.log(`Relay samples: ${jobs} real jobs per run, 100 peers online, f = 0.2, recommended settings, seeds ${seeds.join(', ')}; ${tasks.length} runs on ${workers} workers.`)
  console.log(`Arms: the whole online crowd; a uniform sample of ${sampleSize} live peers, replaced every ${sampleRefreshJobs} real jobs and whenever it cannot fill a plan; the same with one of two relays dropping ${omitHonestShare * 100} % of the honest peers from its half; the sample whose refresh keeps its live members established with the requester (what ReplicaPool does).`)
  const results = await runAll(tasks, workers)
  const pooled = (arm: string, k: string): Pooled => pool(seeds.map((seed) => results.get(`pool/${arm}/${k}/${seed}`)!))
  const rows: string[] = []
  const total = new Map(arms.map((a) => [a.id, pool([...results.entries()].filter(([id]) => id.startsWith(`pool/${a.id}/`)).map(([, r]) => r))]))
  const row = (label: string, ps: Pooled[]): string => {
    const [w, s, o, kp] = ps
    return `| ${label} | ${ps.map((p) => p.wrongAccepted).join(' | ')} | ${pAtLeast(w.wrongAccepted, s.wrongAccepted).toFixed(2)} | ${pAtLeast(w.wrongAccepted, kp.wrongAccepted).toFixed(2)} | ${ps.map((p) => p.wrongStanding).join(' | ')} | ${ps.map((p) => p.honestRejected).join(' | ')} | ${ps.map((p) => p.compute.toFixed(2)).join(' | ')} | ${pAtLeast(w.wrongAccepted, o.wrongAccepted).toFixed(2)} |`
  }
  for (const k of populations) rows.push(row(k, arms.map((a) => pooled(a.id, k))))
  rows.push(row('**all**', arms.map((a) => total.get(a.id)!)))
  const cols = arms.map((a) => a.label).join(' | ')
  const w = total.get('whole')!
  const smp = total.get('sample')!
  const om = total.get('omit')!
  const kp = total.get('keep')!
  console.log(`
### Relay samples vs the whole crowd (f = 0.2, seeds ${seeds.join('–')} pooled, ${jobs * seeds.length} jobs per cell)
`)
  console.log(`Counts per cell. p: one-sided chance of at least the sampled arm's wrong accepts if its rate equalled the whole crowd's.
`)
  console.log(`| attackers | wrong accepted: ${cols} | p (sample) | p (keeping) | wrong standing: ${cols} | honest votes rejected: ${cols} | compute / job: ${cols} | p (omitting) |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`)
  console.log(rows.join('\n'))
  console.log(`
All populations: wrong accepted ${rate(w.wrongAccepted, w.jobs)} whole, ${rate(smp.wrongAccepted, smp.jobs)} sampled, ${rate(om.wrongAccepted, om.jobs)} with an omitting relay, ${rate(kp.wrongAccepted, kp.jobs)} keeping established; honest rejected ${rate(w.honestRejected, w.honestVotes)}, ${rate(smp.honestRejected, smp.honestVotes)}, ${rate(om.honestRejected, om.honestVotes)}, ${rate(kp.honestRejected, kp.honestVotes)}; honest peers flagged ${w.honestFlagged}, ${smp.honestFlagged}, ${om.honestFlagged}, ${kp.honestFlagged}.`)
  const stat = (arm: string): string => {
    const ss = [...results.entries()].filter(([id]) => id.startsWith(`pool/${arm}/`)).map(([, r]) => r.sampling!)
    const mean = (f: (x: NonNullable<SimResult['sampling']>) => number): number => ss.reduce((a, x) => a + f(x), 0) / ss.length
    return `${mean((x) => x.draws).toFixed(0)} samples per run (${mean((x) => x.early).toFixed(1)} early), ${mean((x) => x.meanMembers).toFixed(1)} members, attackers ${(mean((x) => x.attackerShare) * 100).toFixed(1)} % of them, ${mean((x) => x.meanKept).toFixed(1)} kept`
  }
  console.log(`Samples: ${stat('sample')}; with the omitting relay: ${stat('omit')}; keeping established: ${stat('keep')}.`)
  writeResults(out, results, 'kept-first')
  console.log(`
wrote ${out} (pool/ entries)`)
}

async function main (): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const workers = Number(args.workers ?? Math.max(1, Math.min(availableParallelism(), 8)))
  if (args.pool === 'true') {
    await poolSection(args, workers)
    return
  }
  const quick = args.quick === 'true'
  const jobs = Number(args.jobs ?? (quick ? 8000 : 20_000))
  const nSeeds = Number(args.seeds ?? (quick ? 2 : 6))
  const seeds = Array.from({ length: nSeeds }, (_, i) => i + 1)
  const sweepSeeds = seeds.slice(0, quick ? 1 : 3)
  const out = args.out ?? 'sim/results.json'
  const svg = args.svg ?? 'sim/curve.svg'

  const common = { jobs, online: 100, f: 0.2 }
  // The recommended settings: production code, options a requester sets (see README).
  const RECOMMENDED = { adaptive: { newcomerShare: 0.05, floorRecheck: 0.1, probation: 10 } }
  const populations = [...ATTACKER_KINDS, 'mixed', 'strategic'] as const
  const tasks: Task[] = []
  const add = (id: string, over: Partial<SimOptions>): void => { tasks.push({ id, options: defaultOptions({ ...common, ...over }) }) }
  for (const seed of seeds) {
    for (const attacker of populations) add(`kind/${attacker}/${seed}`, { ...RECOMMENDED, attacker, seed })
    add(`production/mixed/${seed}`, { attacker: 'mixed', seed })
    add(`fault/all/${seed}`, { ...RECOMMENDED, attacker: 'none', seed, backendFault: { backend: 'ort-web/webgpu', rate: 1 } })
    add(`fault/some/${seed}`, { ...RECOMMENDED, attacker: 'none', seed, backendFault: { backend: 'ort-web/webgpu', rate: 0.05 } })
    add(`fault/all-noverdict/${seed}`, { ...RECOMMENDED, attacker: 'none', seed, backendFault: { backend: 'ort-web/webgpu', rate: 1 }, backendVerdicts: false })
    add(`settle/strategic/${seed}`, { ...RECOMMENDED, attacker: 'strategic', seed, recentLimit: 1e9, trust: { recentLimit: 1e9 } })
  }
  const rechecks = quick ? [0.05, 0.2, 1] : [0.05, 0.1, 0.2, 0.4, 0.7, 1]
  const probations = [10, 50]
  for (const seed of sweepSeeds) {
    for (const floorRecheck of rechecks) {
      for (const probation of probations) {
        add(`sweep/${floorRecheck}/${probation}/${seed}`, { attacker: 'strategic', seed, patience: probation, adaptive: { newcomerShare: 0.05, floorRecheck, probation } })
      }
    }
    add(`sweep/fixed/${seed}`, { attacker: 'strategic', seed, fixed: { replicas: 3, quorum: 2 } })
  }

  console.log(`Crosscheck trust simulation: ${jobs} real jobs per run (a job every 3 s: ${(jobs * 3 / 3600).toFixed(1)} h), 100 peers online, f = 0.2, seeds ${seeds.join(', ')}; ${tasks.length} runs on ${workers} workers.`)
  console.log('Honest peers: 50 % visitors (10 min), 35 % extensions (2 days), 15 % Node workers (7 days); four numeric classes; policy exact (cross-class 1e-4).')
  console.log(`Recommended settings: ${JSON.stringify(RECOMMENDED.adaptive)}, canary rate 0.05, established after 20, flagged after 2 invalid votes, re-verification memory 128 jobs.`)
  const results = await runAll(tasks, workers)
  const get = (prefix: string): SimResult[] => [...results.entries()].filter(([id]) => id.startsWith(prefix)).map(([, r]) => r)

  // ---------------------------------------------------------------- per kind
  const kindRows: string[] = []
  const pooledByKind = new Map<string, Pooled>()
  for (const k of populations) {
    const p = pool(get(`kind/${k}/`))
    pooledByKind.set(k, p)
    const bySeed = seeds.map((seed) => results.get(`kind/${k}/${seed}`)!.wrongAccepted).join(' ')
    kindRows.push(`| ${k} | ${rate(p.wrongAccepted, p.jobs)} | ${bySeed} | ${rate(p.wrongStanding, p.jobs)} | ${p.retracted} | ${rate(p.honestRejected, p.honestVotes)} | ${p.honestFlagged} | ${p.compute.toFixed(2)} | ${per(p.attackerRight, p.attackerWrong)} | ${p.flagged}/${p.identities} | ${p.freshIdentities} | ${p.failed} |`)
  }
  const KIND_HEADER = '| attackers | wrong accepted (answer time) | per seed | wrong standing (after settlement) | retracted | honest votes rejected | honest peers flagged | compute / job | attacker right votes per wrong accepted | attacker identities flagged | fresh identities | jobs failed (no answer) |\n|---|---|---|---|---|---|---|---|---|---|---|---|'
  const perSeed = (k: string): string[] => seeds.map((seed) => {
    const r = results.get(`kind/${k}/${seed}`)!
    return `| ${k} | ${seed} | ${r.wrongAccepted} | ${r.wrongStanding} | ${r.honestRejected} | ${r.honestFlagged} | ${r.computePerJob.toFixed(3)} | ${r.attackerRightVotesPerWrong === null ? '–' : r.attackerRightVotesPerWrong.toFixed(0)} |`
  })

  // ---------------------------------------------------------------- targets
  const attackerKinds = populations
  const all = pool(attackerKinds.flatMap((k) => get(`kind/${k}/`)))
  const worst = (f: (p: Pooled) => number): [string, Pooled] => [...pooledByKind.entries()].reduce((a, b) => (f(b[1]) > f(a[1]) ? b : a))
  const [wk, wp] = worst((p) => p.wrongAccepted / p.jobs)
  const [sk, sp] = worst((p) => p.wrongStanding / p.jobs)
  const mixed = pooledByKind.get('mixed')!
  const cheapest = [...pooledByKind.entries()].filter(([, p]) => p.attackerWrong > 0).reduce<[string, Pooled] | undefined>((a, b) => (a === undefined || b[1].attackerRight / b[1].attackerWrong < a[1].attackerRight / a[1].attackerWrong ? b : a), undefined)
  const pass = (ok: boolean): string => (ok ? '**met**' : '**not met**')
  const targetRows = [
    `| wrong answers accepted at answer time, per job | ≤ 1e-5 | worst: ${wk} ${rate(wp.wrongAccepted, wp.jobs)}; all populations ${rate(all.wrongAccepted, all.jobs)} | ${pass(wp.wrongAccepted / wp.jobs <= 1e-5)} |`,
    `| … at average compute | ≤ 1.3× | mixed ${mixed.compute.toFixed(2)}× (range ${Math.min(...[...pooledByKind.values()].map((p) => p.compute)).toFixed(2)}–${Math.max(...[...pooledByKind.values()].map((p) => p.compute)).toFixed(2)}×) | ${pass(Math.max(...[...pooledByKind.values()].map((p) => p.compute)) <= 1.3)} |`,
    `| wrong answers standing after settlement, per job | ≤ 1e-6 | worst: ${sk} ${rate(sp.wrongStanding, sp.jobs)}; all ${rate(all.wrongStanding, all.jobs)} | ${pass(sp.wrongStanding / sp.jobs <= 1e-6)} |`,
    `| honest answers rejected (votes) | ≤ 1e-4 | ${rate(all.honestRejected, all.honestVotes)}; right answers retracted: ${rate(all.falseRetractions, all.jobs)} | ${pass(all.honestRejected / Math.max(1, all.honestVotes) <= 1e-4 && all.falseRetractions / all.jobs <= 1e-4)} |`,
    `| honest peers flagged | 0 | ${all.honestFlagged} | ${pass(all.honestFlagged === 0)} |`,
    `| attacker's right votes per wrong answer accepted | ≥ 1000 | cheapest: ${cheapest === undefined ? 'none accepted' : `${cheapest[0]} ${per(cheapest[1].attackerRight, cheapest[1].attackerWrong)}`}; all attackers ${per(all.attackerRight, all.attackerWrong)} | ${pass(cheapest === undefined || cheapest[1].attackerRight / cheapest[1].attackerWrong >= 1000)} |`
  ]
  console.log(`\n### Targets at f = 0.2 (recommended settings, seeds ${seeds.join('–')} pooled, every population)\n\n| target | goal | measured | |\n|---|---|---|---|\n${targetRows.join('\n')}`)
  console.log(`\n### Per attacker kind at f = 0.2 (seeds ${seeds.join('–')} pooled, ${jobs} jobs each)\n\n${KIND_HEADER}\n${kindRows.join('\n')}`)
  console.log(`\nWrong accepts by plan (all populations): ${JSON.stringify(all.wrongWhy)}`)
  // Identity cost (src/consensus/identity-cost.ts): the price of a fresh identity, in honest
  // jobs' worth of CPU (--identity-cost; default 100: the ~1.9 s puzzle against a ~17 ms OCR
  // detection job in browser WASM, bench/results.json; a tiny MLP job costs far less, so more).
  // The world counts it only in the attacker's bill, so this is what it buys per wrong answer.
  const identityCost = Number(args['identity-cost'] ?? 100)
  const costRows = ['whitewash-flag', 'whitewash-once', 'strategic', 'mixed'].map((k) => {
    const p = pooledByKind.get(k)!
    return `| ${k} | ${p.freshIdentities} | ${per(p.attackerRight, p.attackerWrong)} | ${per(p.attackerRight + p.freshIdentities * identityCost, p.attackerWrong)} |`
  })
  console.log(`\n### Identity cost: ${identityCost} honest jobs per fresh identity (seeds ${seeds.join('–')} pooled)\n\n| attackers | fresh identities | attacker cost per wrong accepted, free identities | … with the identity puzzle |\n|---|---|---|---|\n${costRows.join('\n')}`)
  console.log(`\n#### Per seed (mixed and strategic)\n\n| attackers | seed | wrong accepted | wrong standing | honest rejected | honest flagged | compute / job | attacker right votes per wrong |\n|---|---|---|---|---|---|---|---|\n${[...perSeed('mixed'), ...perSeed('strategic')].join('\n')}`)

  // ---------------------------------------------------------------- production defaults
  const prod = pool(get('production/mixed/'))
  console.log(`\n### Production defaults vs recommended (mixed attackers)\n\n| settings | wrong accepted | wrong standing | honest rejected | compute / job |\n|---|---|---|---|---|\n| defaults (uniform first draw) | ${rate(prod.wrongAccepted, prod.jobs)} | ${rate(prod.wrongStanding, prod.jobs)} | ${rate(prod.honestRejected, prod.honestVotes)} | ${prod.compute.toFixed(2)} |\n| recommended (newcomerShare 0.05) | ${rate(mixed.wrongAccepted, mixed.jobs)} | ${rate(mixed.wrongStanding, mixed.jobs)} | ${rate(mixed.honestRejected, mixed.honestVotes)} | ${mixed.compute.toFixed(2)} |`)

  // ---------------------------------------------------------------- frontier
  const sweepRows: string[] = []
  const series: Series[] = []
  const colours = ['#1f77b4', '#ff7f0e']
  probations.forEach((probation, i) => {
    const answer: Series = { label: `answer time, probation ${probation}`, colour: colours[i], points: [] }
    const standing: Series = { label: `standing, probation ${probation}`, colour: colours[i], dashed: true, points: [] }
    for (const floorRecheck of rechecks) {
      const p = pool(get(`sweep/${floorRecheck}/${probation}/`))
      sweepRows.push(`| ${floorRecheck} | ${probation} | ${p.compute.toFixed(2)} | ${rate(p.wrongAccepted, p.jobs)} | ${rate(p.wrongStanding, p.jobs)} | ${per(p.attackerRight, p.attackerWrong)} | ${rate(p.honestRejected, p.honestVotes)} |`)
      answer.points.push({ x: p.compute, y: p.wrongAccepted / p.jobs, upper: 3 / p.jobs, note: i === 0 ? `${floorRecheck}` : undefined })
      standing.points.push({ x: p.compute, y: p.wrongStanding / p.jobs, upper: 3 / p.jobs })
    }
    series.push(answer, standing)
  })
  const fixed = pool(get('sweep/fixed/'))
  sweepRows.push(`| fixed 3 replicas, quorum 2 | – | ${fixed.compute.toFixed(2)} | ${rate(fixed.wrongAccepted, fixed.jobs)} | ${rate(fixed.wrongStanding, fixed.jobs)} | ${per(fixed.attackerRight, fixed.attackerWrong)} | ${rate(fixed.honestRejected, fixed.honestVotes)} |`)
  series.push({ label: 'fixed 3 replicas, quorum 2', colour: '#2ca02c', points: [{ x: fixed.compute, y: fixed.wrongAccepted / fixed.jobs, upper: 3 / fixed.jobs }] })
  console.log(`\n### Frontier: strategic attackers (colluding, patient, sparse, whitewashing) at f = 0.2, newcomerShare 0.05, seeds ${sweepSeeds.join(', ')}\n\n| recheck rate | probation | compute / job | wrong accepted (answer time) | wrong standing | attacker right votes per wrong | honest rejected |\n|---|---|---|---|---|---|---|\n${sweepRows.join('\n')}`)
  writeFileSync(svg, lineChart({
    title: 'Wrong answers accepted vs compute (strategic attackers, f = 0.2)',
    xLabel: 'compute per job (dispatches, canaries and re-verification included)',
    yLabel: 'wrong answers per job',
    series,
    goals: [{ y: 1e-5, label: 'goal at answer time 1e-5' }, { y: 1e-6, label: 'goal standing 1e-6' }],
    xGoal: { x: 1.3, label: '1.3×' },
    yZero: 1e-7
  }))
  console.log(`\n(chart: ${svg}; a hollow point saw none in ${sweepSeeds.length * jobs} jobs and is drawn at the 95 % upper bound ${(3 / (sweepSeeds.length * jobs)).toExponential(0)}; labels are recheck rates)`)

  // ---------------------------------------------------------------- backend fault
  const faultRow = (label: string, rs: SimResult[]): string => {
    const p = pool(rs)
    const fb = rs.map((r) => r.faultBackend!)
    const peers = fb.reduce((a, b) => a + b.peers, 0)
    const flagged = fb.reduce((a, b) => a + b.flagged, 0)
    const mean = (xs: Array<number | null>): string => {
      const hs = xs.filter((h): h is number => h !== null)
      return hs.length === 0 ? '–' : `${(hs.reduce((a, b) => a + b, 0) / hs.length).toFixed(1)} h`
    }
    const judged = fb.filter((b) => b.verdictHours !== null).length
    const after = fb.reduce((a, b) => a + b.askedAfterVerdict, 0)
    return `| ${label} | ${rate(p.wrongAccepted, p.jobs)} | ${rate(p.wrongStanding, p.jobs)} | ${flagged}/${peers} | ${mean(fb.map((b) => b.firstFlagHours))} | ${judged}/${fb.length} runs, ${mean(fb.map((b) => b.verdictHours))} | ${judged === 0 ? '–' : after} | ${p.honestFlagged} | ${p.compute.toFixed(2)} |`
  }
  console.log(`\n### A backend wrong the same way on every peer (WebGPU; no attackers; recommended settings; seeds ${seeds.join('–')})\n\n| fault | wrong accepted | wrong standing | WebGPU peers flagged | first flag after | backend judged | its peers asked after | other honest peers flagged | compute / job |\n|---|---|---|---|---|---|---|---|---|\n${faultRow('every input', get('fault/all/'))}\n${faultRow('5 % of inputs', get('fault/some/'))}\n${faultRow('every input, no backend verdicts', get('fault/all-noverdict/'))}`)

  // ---------------------------------------------------------------- settlement hook
  const settle = pool(get('settle/strategic/'))
  const strategic = pooledByKind.get('strategic')!
  console.log(`\n### Settlement hook: re-verification remembering every job instead of the last 128 (strategic attackers)\n\n| memory | wrong accepted | retracted | wrong standing | compute / job |\n|---|---|---|---|---|\n| 128 jobs (trust.ts today) | ${rate(strategic.wrongAccepted, strategic.jobs)} | ${strategic.retracted} | ${rate(strategic.wrongStanding, strategic.jobs)} | ${strategic.compute.toFixed(2)} |\n| every job | ${rate(settle.wrongAccepted, settle.jobs)} | ${settle.retracted} | ${rate(settle.wrongStanding, settle.jobs)} | ${settle.compute.toFixed(2)} |`)

  writeResults(out, results, 'fresh-first')
  console.log(`\nwrote ${out} and ${svg}`)
}

// ---------------------------------------------------------------- child: run what the parent sends
if (process.argv.includes('--child')) {
  process.on('message', (task: Task) => {
    const result = runSim(task.options)
    process.send?.({ id: task.id, result })
  })
} else {
  await main()
}
