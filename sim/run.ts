/**
 * Seeded trust simulation: `npx tsx sim/run.ts [--seed 1] [--jobs 50000]
 * [--peers 200] [--f 0.2] [--adversary colluding|always-wrong|noise|slow|silent|copying|mixed|all]
 * [--canary-rate 0.05] [--floor-recheck 0.1] [--established-after 20]
 * [--max-invalid 2] [--patience 0] [--tail 0] [--sweep] [--baseline]
 * [--out sim/results.json]`.
 *
 * Default: every adversary kind at --f, then a sweep of f for colluders,
 * then the plain-majority baseline (k=5, quorum 3) for comparison. Prints
 * markdown tables and writes every result to --out.
 */
import { writeFileSync } from 'node:fs'
import { ADVERSARY_KINDS, runSim } from './world.js'
import type { AdversaryKind, SimOptions, SimResult } from './world.js'

function parseArgs (argv: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`)
    const key = a.slice(2)
    const next = argv[i + 1]
    if (next === undefined || next.startsWith('--')) out[key] = 'true'
    else { out[key] = next; i++ }
  }
  return out
}

const args = parseArgs(process.argv.slice(2))
const num = (k: string, d: number): number => (args[k] === undefined ? d : Number(args[k]))
const base: SimOptions = {
  seed: num('seed', 1),
  jobs: num('jobs', 50_000),
  peers: num('peers', 200),
  f: num('f', 0.2),
  adversary: 'colluding',
  canaryRate: num('canary-rate', 0.05),
  floorRecheck: num('floor-recheck', 0.1),
  probation: num('probation', 10),
  newcomerReplicas: num('newcomer-replicas', 3),
  probationRecheck: num('probation-recheck', 1),
  establishedAfter: num('established-after', 20),
  maxInvalid: num('max-invalid', 2),
  patience: num('patience', 0),
  tail: num('tail', 0),
  outputSize: num('output-size', 16),
  reverify: num('reverify', 8),
  policy: { kind: 'exact' }
}
const adversaryArg = args.adversary ?? 'all'
const kinds: Array<AdversaryKind | 'mixed'> = adversaryArg === 'all' ? [...ADVERSARY_KINDS, 'mixed'] : [adversaryArg as AdversaryKind | 'mixed']
const sweep = args.sweep === 'true' || args.adversary === undefined
const baseline = args.baseline === 'true' || args.adversary === undefined

const fmtRate = (n: number, d: number): string => `${n}/${d}${n === 0 ? '' : ` (${(n / d).toExponential(1)})`}`
const fmt = (x: number | null, digits = 0): string => (x === null ? '-' : x.toFixed(digits))

function row (r: SimResult, label: string): string {
  const adv = Object.entries(r.byKind).filter(([k]) => k !== 'honest')
  const flagged = adv.map(([k, s]) => `${k === r.options.adversary ? '' : k + ' '}${s.flagged}/${s.peers}${s.benched > 0 ? ` (benched ${s.benched})` : ''}`).join(', ')
  const ttf = adv.map(([k, s]) => `${k === r.options.adversary ? '' : k + ' '}${fmt(s.meanJobsToFlag)}`).join(', ')
  return `| ${label} | ${r.options.f} | ${fmtRate(r.wrongAccepted, r.realJobs)} | ${r.retracted} | ${fmtRate(r.honestInvalidVotes, r.honestVotes)} | ${r.honestFlagged} | ${r.replicasPerJob.toFixed(3)} | ${r.realReplicasPerJob.toFixed(3)} | ${r.failed} | ${flagged} | ${ttf} | ${r.ms} |`
}
const HEADER = '| adversary | f | wrong-accept | of them retracted later | honest false-reject (votes) | honest flagged | replicas/job (all) | replicas/job (real only) | failed jobs | adversaries flagged | mean job # at flag | ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|'

const results: SimResult[] = []
const print = (title: string, rows: string[]): void => {
  console.log(`\n### ${title}\n\n${HEADER}\n${rows.join('\n')}`)
}

console.log(`seed ${base.seed}, ${base.jobs} jobs, ${base.peers} peers, canary rate ${base.canaryRate}, floor recheck ${base.floorRecheck}, established after ${base.establishedAfter}, max invalid ${base.maxInvalid}, patience ${base.patience}, tail ${base.tail}, newcomer replicas ${base.newcomerReplicas}, policy exact (cross-class 1e-4/1e-4)`)

const perKind: string[] = []
for (const adversary of kinds) {
  const r = runSim({ ...base, adversary })
  results.push(r)
  perKind.push(row(r, adversary))
}
print(`Per adversary kind at f = ${base.f}`, perKind)

if (sweep) {
  const rows: string[] = []
  const kind = kinds.length === 1 ? kinds[0] : 'colluding'
  for (const f of [0.05, 0.1, 0.2, 0.3]) {
    const r = runSim({ ...base, adversary: kind, f })
    results.push(r)
    rows.push(row(r, kind))
  }
  print(`Sweep of f (${kind})`, rows)
}

if (baseline) {
  const r = runSim({ ...base, adversary: 'colluding', baseline: { replicas: 5, quorum: 3 } })
  results.push(r)
  print('Baseline: plain majority k=5, quorum 3, no reputation/canaries (colluding)', [row(r, 'colluding (baseline)')])
}

const out = args.out ?? 'sim/results.json'
writeFileSync(out, JSON.stringify(results, null, 2) + '\n')
console.log(`\nwrote ${out}`)
