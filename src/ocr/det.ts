import { createTensor } from '../tensor/index.js'
import { InvalidTensorError } from '../errors.js'
import type { Tensor } from '../tensor/index.js'
import {
  DET_BOX_THRESH, DET_LIMIT_SIDE_LEN, DET_MAX_CANDIDATES, DET_MEAN, DET_MIN_SIZE, DET_SIZE_MULTIPLE, DET_STD,
  DET_THRESH, DET_UNCLIP_RATIO, SAME_ROW_PX
} from './constants.js'
import { checkImage, resizeBilinear } from './image.js'
import type { Box, DetScale, RgbaImage } from './types.js'

export interface DetPreprocessOptions {
  /**
   * The longer side is shrunk to at most this many pixels (never enlarged).
   * @default 960
   */
  limitSideLen?: number
}

export interface DetInput {
  /** float32 [1,3,H,W], H and W multiples of 32. */
  x: Tensor
  scale: DetScale
}

/**
 * PaddleOCR DetResizeForTest (limit_type 'max') + NormalizeImage + ToCHW.
 * Channels go in BGR order with the ImageNet mean/std applied per position,
 * exactly as PaddleOCR feeds cv2 (BGR) images to the model it was trained with.
 */
export function detPreprocess (image: RgbaImage, options: DetPreprocessOptions = {}): DetInput {
  checkImage(image)
  const limit = options.limitSideLen ?? DET_LIMIT_SIDE_LEN
  const longest = Math.max(image.width, image.height)
  const ratio = longest > limit ? limit / longest : 1
  const toMultiple = (v: number): number => Math.max(Math.round(v * ratio / DET_SIZE_MULTIPLE) * DET_SIZE_MULTIPLE, DET_SIZE_MULTIPLE)
  const width = toMultiple(image.width)
  const height = toMultiple(image.height)
  const resized = resizeBilinear(image, width, height)
  const plane = width * height
  const data = new Float32Array(3 * plane)
  const src = resized.data
  for (let i = 0; i < plane; i++) {
    // channel c of the tensor holds B, G, R for c = 0, 1, 2
    for (let c = 0; c < 3; c++) {
      data[c * plane + i] = (src[i * 4 + 2 - c] / 255 - DET_MEAN[c]) / DET_STD[c]
    }
  }
  return {
    x: createTensor('float32', [1, 3, height, width], data),
    scale: { srcWidth: image.width, srcHeight: image.height, width, height }
  }
}

export interface DetPostprocessOptions {
  /** Pixel threshold of the probability map. @default 0.3 */
  thresh?: number
  /** Minimum mean probability inside a box. @default 0.6 */
  boxThresh?: number
  /** Unclip (expand) ratio: distance = area * ratio / perimeter. @default 2.0 */
  unclipRatio?: number
  /** Boxes whose short side is below this (map pixels) are dropped. @default 3 */
  minSize?: number
  /** At most this many connected components are considered. @default 1000 */
  maxCandidates?: number
}

/**
 * DB post-processing with axis-aligned boxes: threshold the probability
 * map, take 8-connected components, score each by the mean probability of
 * its bounding box, expand ("unclip") it, and map it back to source image
 * pixels. Boxes are sorted top-to-bottom, then left-to-right within a row.
 *
 * `probMap` is the det output, float32 [1,1,H,W] (or [1,H,W] / [H,W]) at the det input size.
 */
export function detPostprocess (probMap: Tensor, scale: DetScale, options: DetPostprocessOptions = {}): Box[] {
  const thresh = options.thresh ?? DET_THRESH
  const boxThresh = options.boxThresh ?? DET_BOX_THRESH
  const unclipRatio = options.unclipRatio ?? DET_UNCLIP_RATIO
  const minSize = options.minSize ?? DET_MIN_SIZE
  const maxCandidates = options.maxCandidates ?? DET_MAX_CANDIDATES
  const dims = probMap.dims
  if (probMap.dtype !== 'float32' || dims.length < 2 || dims.slice(0, -2).some((d) => d !== 1)) {
    throw new InvalidTensorError(`det output must be float32 [1,1,H,W], got ${probMap.dtype}${JSON.stringify(dims)}`)
  }
  const h = dims[dims.length - 2]
  const w = dims[dims.length - 1]
  const prob = probMap.data as Float32Array

  const labels = new Int32Array(w * h) // 0 = unvisited, -1 = background/visited
  const stack = new Int32Array(w * h)
  const boxes: Box[] = []
  let candidates = 0
  for (let start = 0; start < w * h && candidates < maxCandidates; start++) {
    if (labels[start] !== 0) continue
    if (!(prob[start] > thresh)) { labels[start] = -1; continue }
    candidates++
    // Iterative flood fill over 8-neighbours.
    let top = 0
    stack[top++] = start
    labels[start] = candidates
    let minX = w; let minY = h; let maxX = -1; let maxY = -1
    while (top > 0) {
      const p = stack[--top]
      const px = p % w
      const py = (p - px) / w
      if (px < minX) minX = px
      if (px > maxX) maxX = px
      if (py < minY) minY = py
      if (py > maxY) maxY = py
      for (let dy = -1; dy <= 1; dy++) {
        const ny = py + dy
        if (ny < 0 || ny >= h) continue
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx
          if (nx < 0 || nx >= w) continue
          const q = ny * w + nx
          if (labels[q] !== 0) continue
          if (prob[q] > thresh) { labels[q] = candidates; stack[top++] = q } else labels[q] = -1
        }
      }
    }
    // The component covers pixels [minX, maxX] x [minY, maxY]; as a continuous rectangle it is one pixel wider.
    const bw = maxX - minX + 1
    const bh = maxY - minY + 1
    if (Math.min(bw, bh) < minSize) continue
    let sum = 0
    for (let y = minY; y <= maxY; y++) for (let x = minX; x <= maxX; x++) sum += prob[y * w + x]
    const score = sum / (bw * bh)
    if (score < boxThresh) continue
    // Offsetting a rectangle by d grows each side by 2d (pyclipper + minAreaRect give the same for rectangles).
    const d = (bw * bh * unclipRatio) / (2 * (bw + bh))
    const ew = bw + 2 * d
    const eh = bh + 2 * d
    if (Math.min(ew, eh) < minSize + 2) continue
    const sx = scale.srcWidth / w
    const sy = scale.srcHeight / h
    const x0 = clamp(Math.round((minX - d) * sx), 0, scale.srcWidth)
    const y0 = clamp(Math.round((minY - d) * sy), 0, scale.srcHeight)
    const x1 = clamp(Math.round((minX - d + ew) * sx), 0, scale.srcWidth)
    const y1 = clamp(Math.round((minY - d + eh) * sy), 0, scale.srcHeight)
    if (x1 <= x0 || y1 <= y0) continue
    boxes.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0, score })
  }
  return sortBoxes(boxes)
}

function clamp (v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi)
}

/** PaddleOCR's sorted_boxes: by top, then left-to-right among boxes whose tops are within 10 px. */
export function sortBoxes<T extends Pick<Box, 'x' | 'y'>> (boxes: T[]): T[] {
  const out = [...boxes].sort((a, b) => a.y - b.y || a.x - b.x)
  for (let i = 0; i < out.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      if (Math.abs(out[j + 1].y - out[j].y) < SAME_ROW_PX && out[j + 1].x < out[j].x) {
        const t = out[j]; out[j] = out[j + 1]; out[j + 1] = t
      } else break
    }
  }
  return out
}
