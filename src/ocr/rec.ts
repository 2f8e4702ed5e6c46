import { createTensor } from '../tensor/index.js'
import { InvalidTensorError } from '../errors.js'
import type { Tensor } from '../tensor/index.js'
import { CTC_BLANK, REC_HEIGHT, REC_MAX_WIDTH, REC_MIN_WIDTH, REC_WIDTH_MULTIPLE } from './constants.js'
import { checkImage, resizeBilinear } from './image.js'
import type { RgbaImage } from './types.js'

export interface RecPreprocessOptions {
  /** Inputs are at least this wide; narrower crops are padded on the right. @default 320 */
  minWidth?: number
  /** Wider crops are squeezed to this width. @default 2048 */
  maxWidth?: number
}

/**
 * PaddleOCR resize_norm_img: scale the crop to height 48 keeping its aspect
 * ratio, normalise to [-1, 1] ((v/255 - 0.5) / 0.5, BGR channel order), and
 * pad on the right with 0 up to the input width (a multiple of 8, at least 320).
 * Returns x float32 [1,3,48,W].
 */
export function recPreprocess (crop: RgbaImage, options: RecPreprocessOptions = {}): Tensor {
  checkImage(crop)
  const maxWidth = options.maxWidth ?? REC_MAX_WIDTH
  const minWidth = options.minWidth ?? REC_MIN_WIDTH
  const roundUp = (v: number): number => Math.ceil(v / REC_WIDTH_MULTIPLE) * REC_WIDTH_MULTIPLE
  const natural = Math.max(1, Math.ceil(REC_HEIGHT * crop.width / crop.height))
  const width = Math.min(roundUp(Math.max(minWidth, natural)), roundUp(maxWidth))
  const resizedWidth = Math.min(width, natural)
  const resized = resizeBilinear(crop, resizedWidth, REC_HEIGHT)
  const plane = REC_HEIGHT * width
  const data = new Float32Array(3 * plane) // zero = the padding value
  const src = resized.data
  for (let y = 0; y < REC_HEIGHT; y++) {
    for (let x = 0; x < resizedWidth; x++) {
      const s = (y * resizedWidth + x) * 4
      const o = y * width + x
      for (let c = 0; c < 3; c++) data[c * plane + o] = (src[s + 2 - c] / 255 - 0.5) / 0.5
    }
  }
  return createTensor('float32', [1, 3, REC_HEIGHT, width], data)
}

export interface ParseKeysOptions {
  /** Append ' ' as the last character, as PaddleOCR does (use_space_char). @default true */
  useSpaceChar?: boolean
}

/** Parses a PaddleOCR keys file (one character per line) into the character list used by ctcDecode. */
export function parseKeys (text: string, options: ParseKeysOptions = {}): string[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''))
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  if (options.useSpaceChar ?? true) lines.push(' ')
  return lines
}

export interface CtcDecodeOptions {
  /** Index of the CTC blank. @default 0 */
  blank?: number
}

export interface CtcResult {
  text: string
  /** Mean of the winning probabilities of the emitted characters (0 when none). */
  confidence: number
  /** Emitted class indices (after collapsing repeats and dropping blanks). */
  indices: number[]
}

/**
 * Greedy CTC decoding of a rec output [1,T,C] (or [T,C]): argmax per step,
 * collapse repeats, drop blanks. Class i maps to keys[i-1] (class 0 is the blank).
 */
export function ctcDecode (output: Tensor, keys: readonly string[], options: CtcDecodeOptions = {}): CtcResult {
  const blank = options.blank ?? CTC_BLANK
  const dims = output.dims
  if ((output.dtype !== 'float32' && output.dtype !== 'float64') || dims.length < 2 || dims.slice(0, -2).some((d) => d !== 1)) {
    throw new InvalidTensorError(`rec output must be float [1,T,C], got ${output.dtype}${JSON.stringify(dims)}`)
  }
  const steps = dims[dims.length - 2]
  const classes = dims[dims.length - 1]
  const data = output.data as Float32Array | Float64Array
  const indices: number[] = []
  let text = ''
  let confSum = 0
  let prev = -1
  for (let t = 0; t < steps; t++) {
    let best = 0
    let bestP = -Infinity
    for (let c = 0; c < classes; c++) {
      const p = data[t * classes + c]
      if (p > bestP) { bestP = p; best = c }
    }
    if (best !== blank && best !== prev) {
      const ch = keys[best - 1]
      if (ch === undefined) throw new InvalidTensorError(`class ${best} has no key (${keys.length} keys)`)
      indices.push(best)
      text += ch
      confSum += bestP
    }
    prev = best
  }
  return { text, confidence: indices.length > 0 ? confSum / indices.length : 0, indices }
}
