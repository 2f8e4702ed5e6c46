/**
 * One profiled session for bench/profile.ts, in its own process:
 * `node --import tsx bench/profile-child.ts <web|node> <model.onnx> <inputs.json> <threads> <runs> <tmpdir>`.
 * Prints the onnxruntime trace between PROFILE_BEGIN and PROFILE_END on
 * stdout: onnxruntime-web prints it there itself on `endProfiling()`;
 * onnxruntime-node writes a file, which is printed here.
 * Both use the worker's session defaults (workers/session-options.ts), and
 * native its own defaults (arena and memory pattern on), as in the bench.
 */
import { readFile, readdir } from 'node:fs/promises'
import { writeSync } from 'node:fs'
import { join } from 'node:path'
import { tensorsFromJSON } from '../src/tensor/index.js'
import { DEFAULT_SESSION_OPTIONS } from '../workers/session-options.js'
import { PROFILE_BEGIN, PROFILE_END } from './profile.js'

const [runtime, modelPath, inputPath, threadsArg, runsArg, dir] = process.argv.slice(2)
const threads = Number(threadsArg)
const runs = Number(runsArg)
const bytes = new Uint8Array(await readFile(modelPath))
const inputs = tensorsFromJSON(JSON.parse(await readFile(inputPath, 'utf8')))
/**
 * onnxruntime-web writes its trace straight to fd 1, so the markers must not
 * wait in a stream buffer: write synchronously, retrying while the pipe is full (EAGAIN).
 */
function writeAll (s: string): void {
  const buf = Buffer.from(s)
  let off = 0
  while (off < buf.byteLength) {
    try {
      off += writeSync(1, buf, off)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err
    }
  }
}
const mark = (s: string): void => { writeAll(`\n${s}\n`) }

if (runtime === 'web') {
  const ort = await import('onnxruntime-web/wasm')
  ort.env.wasm.numThreads = threads
  const session = await ort.InferenceSession.create(bytes, { ...DEFAULT_SESSION_OPTIONS, executionProviders: ['wasm'], enableProfiling: true })
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, new ort.Tensor(t.dtype, t.data as Float32Array, t.dims)]))
  for (let i = 0; i < runs; i++) await session.run(feeds)
  mark(PROFILE_BEGIN)
  session.endProfiling()
  mark(PROFILE_END)
  await session.release()
} else {
  const ort = await import('onnxruntime-node')
  const prefix = join(dir, `native-${process.pid}`)
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, enableProfiling: true, profileFilePrefix: prefix })
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, new ort.Tensor(t.dtype, t.data as Float32Array, t.dims)]))
  for (let i = 0; i < runs; i++) await session.run(feeds)
  session.endProfiling()
  const file = (await readdir(dir)).find(f => f.startsWith(`native-${process.pid}`) && f.endsWith('.json'))
  if (file == null) throw new Error('onnxruntime-node wrote no profile')
  mark(PROFILE_BEGIN)
  writeAll(await readFile(join(dir, file), 'utf8'))
  mark(PROFILE_END)
  await session.release()
}
process.exit(0)
