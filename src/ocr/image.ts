import { InvalidImageError } from './errors.js'
import type { Box, RgbaImage } from './types.js'

export function checkImage (image: RgbaImage): void {
  const { width, height, data } = image
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw new InvalidImageError(`image size must be positive integers, got ${width}x${height}`)
  }
  if (data.length !== width * height * 4) throw new InvalidImageError(`RGBA image ${width}x${height} needs ${width * height * 4} bytes, has ${data.length}`)
}

/**
 * Bilinear resize with half-pixel centres, like cv2.resize(INTER_LINEAR),
 * which is what PaddleOCR's preprocessing uses.
 */
export function resizeBilinear (image: RgbaImage, width: number, height: number): RgbaImage {
  checkImage(image)
  if (width === image.width && height === image.height) return { width, height, data: new Uint8ClampedArray(image.data) }
  const src = image.data
  const sw = image.width
  const sh = image.height
  const out = new Uint8ClampedArray(width * height * 4)
  const fx = sw / width
  const fy = sh / height
  for (let y = 0; y < height; y++) {
    const syf = Math.min(Math.max((y + 0.5) * fy - 0.5, 0), sh - 1)
    const y0 = Math.floor(syf)
    const y1 = Math.min(y0 + 1, sh - 1)
    const wy = syf - y0
    for (let x = 0; x < width; x++) {
      const sxf = Math.min(Math.max((x + 0.5) * fx - 0.5, 0), sw - 1)
      const x0 = Math.floor(sxf)
      const x1 = Math.min(x0 + 1, sw - 1)
      const wx = sxf - x0
      const a = (y0 * sw + x0) * 4
      const b = (y0 * sw + x1) * 4
      const c = (y1 * sw + x0) * 4
      const d = (y1 * sw + x1) * 4
      const o = (y * width + x) * 4
      for (let k = 0; k < 4; k++) {
        const top = src[a + k] + (src[b + k] - src[a + k]) * wx
        const bottom = src[c + k] + (src[d + k] - src[c + k]) * wx
        out[o + k] = Math.round(top + (bottom - top) * wy)
      }
    }
  }
  return { width, height, data: out }
}

/** Copies the part of `image` under `box` (rounded outwards to whole pixels, clipped to the image). */
export function cropImage (image: RgbaImage, box: Pick<Box, 'x' | 'y' | 'width' | 'height'>): RgbaImage {
  checkImage(image)
  const x0 = Math.max(0, Math.floor(box.x))
  const y0 = Math.max(0, Math.floor(box.y))
  const x1 = Math.min(image.width, Math.ceil(box.x + box.width))
  const y1 = Math.min(image.height, Math.ceil(box.y + box.height))
  if (x1 <= x0 || y1 <= y0) throw new InvalidImageError(`box ${JSON.stringify(box)} lies outside the ${image.width}x${image.height} image`)
  const width = x1 - x0
  const height = y1 - y0
  const data = new Uint8ClampedArray(width * height * 4)
  for (let y = 0; y < height; y++) {
    const start = ((y0 + y) * image.width + x0) * 4
    data.set(image.data.subarray(start, start + width * 4), y * width * 4)
  }
  return { width, height, data }
}
