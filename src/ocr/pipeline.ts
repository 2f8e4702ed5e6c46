import { throwIfAborted } from '../errors.js'
import { InvalidTensorError } from '../errors.js'
import type { NamedTensors, Tensor } from '../tensor/index.js'
import { DET_INPUT_NAME, DROP_SCORE, REC_INPUT_NAME } from './constants.js'
import { detPostprocess, detPreprocess } from './det.js'
import type { DetPostprocessOptions, DetPreprocessOptions } from './det.js'
import { cropImage } from './image.js'
import { ctcDecode, recPreprocess } from './rec.js'
import type { RecPreprocessOptions } from './rec.js'
import type { OcrLine, RgbaImage } from './types.js'

/** Runs one model on named inputs: a local session, or a cross-checked job on the network. */
export type RunModel = (inputs: NamedTensors) => Promise<NamedTensors>

export interface ReadTextOptions extends DetPreprocessOptions, DetPostprocessOptions, RecPreprocessOptions {
  /** Det output to read; @default the only (first) output */
  detOutput?: string
  /** Rec output to read; @default the only (first) output */
  recOutput?: string
  /** Lines recognised with a lower confidence are dropped. @default 0.5 */
  dropScore?: number
  signal?: AbortSignal
}

function pick (outputs: NamedTensors, name: string | undefined, what: string): Tensor {
  const key = name ?? Object.keys(outputs)[0]
  const t = key === undefined ? undefined : outputs[key]
  if (t === undefined) throw new InvalidTensorError(`${what} output ${name ?? ''} missing (got ${Object.keys(outputs).join(', ') || 'none'})`)
  return t
}

/**
 * Detects text lines, then recognises each box in reading order.
 * Detection and recognition run through the given callbacks, so the same
 * pipeline serves the browser (through the network) and Node (a local session).
 */
export async function readText (image: RgbaImage, runDet: RunModel, runRec: RunModel, keys: readonly string[], options: ReadTextOptions = {}): Promise<OcrLine[]> {
  const dropScore = options.dropScore ?? DROP_SCORE
  throwIfAborted(options.signal)
  const det = detPreprocess(image, options)
  const probMap = pick(await runDet({ [DET_INPUT_NAME]: det.x }), options.detOutput, 'det')
  const boxes = detPostprocess(probMap, det.scale, options)
  const lines: OcrLine[] = []
  for (const box of boxes) {
    throwIfAborted(options.signal)
    const x = recPreprocess(cropImage(image, box), options)
    const out = pick(await runRec({ [REC_INPUT_NAME]: x }), options.recOutput, 'rec')
    const { text, confidence } = ctcDecode(out, keys)
    if (confidence >= dropScore) lines.push({ text, confidence, box })
  }
  return lines
}
