import { describe, expect, it } from 'vitest'
import { createTensor } from '../tensor/index.js'
import { detPostprocess, detPreprocess, sortBoxes } from './det.js'
import { cropImage } from './image.js'
import type { DetScale, RgbaImage } from './types.js'

function probMap (w: number, h: number, rects: Array<[x: number, y: number, w: number, h: number, p: number]>): ReturnType<typeof createTensor> {
  const data = new Float32Array(w * h).fill(0.01)
  for (const [rx, ry, rw, rh, p] of rects) {
    for (let y = ry; y < ry + rh; y++) for (let x = rx; x < rx + rw; x++) data[y * w + x] = p
  }
  return createTensor('float32', [1, 1, h, w], data)
}

describe('detPostprocess', () => {
  // A 64x32 map for a 128x64 image: every map pixel is 2x2 image pixels.
  const scale: DetScale = { srcWidth: 128, srcHeight: 64, width: 64, height: 32 }

  it('finds one box, unclips it and maps it to image coordinates', () => {
    const boxes = detPostprocess(probMap(64, 32, [[10, 8, 20, 6, 0.9]]), scale, { unclipRatio: 2 })
    // 20x6 component: d = 20*6*2 / (2*(20+6)) = 4.615; x: (10-d)*2 = 10.77 -> 11, (10-d+20+2d)*2 = 69.23 -> 69
    expect(boxes).toHaveLength(1)
    expect(boxes[0]).toMatchObject({ x: 11, y: 7, width: 58, height: 30 })
    expect(boxes[0].score).toBeCloseTo(0.9, 6)
  })

  it('drops low-score and tiny components, and sorts by row then column', () => {
    const map = probMap(64, 32, [
      [40, 2, 10, 5, 0.95], // top right
      [4, 3, 10, 5, 0.95], // top left, 1 map px lower: same row
      [20, 20, 20, 5, 0.5], // above thresh, below boxThresh
      [50, 25, 2, 2, 0.99], // smaller than minSize
      [4, 18, 8, 8, 0.8] // second row
    ])
    const boxes = detPostprocess(map, scale, { unclipRatio: 1.5 })
    // 10x5 components: d = 50*1.5/30 = 2.5; 8x8: d = 3. The top-left box is 1 px lower yet comes first.
    expect(boxes.map((b) => [b.x, b.y])).toEqual([[3, 1], [75, 0], [2, 30]])
  })

  it('rejects a map that is not float32 [1,1,H,W]', () => {
    expect(() => detPostprocess(createTensor('float32', [2, 1, 2, 2], new Float32Array(8)), scale)).toThrow(expect.objectContaining({ name: 'InvalidTensorError' }))
  })
})

describe('sortBoxes', () => {
  it('orders rows top to bottom and boxes within 10 px of height left to right', () => {
    const sorted = sortBoxes([{ x: 50, y: 10 }, { x: 0, y: 15 }, { x: 0, y: 40 }])
    expect(sorted).toEqual([{ x: 0, y: 15 }, { x: 50, y: 10 }, { x: 0, y: 40 }])
  })
})

describe('detPreprocess', () => {
  const image = (width: number, height: number): RgbaImage => ({ width, height, data: new Uint8ClampedArray(width * height * 4).fill(255) })

  it('rounds sides to multiples of 32 and normalises with BGR ImageNet statistics', () => {
    const { x, scale } = detPreprocess(image(480, 120))
    expect(x.dims).toEqual([1, 3, 128, 480])
    expect(scale).toEqual({ srcWidth: 480, srcHeight: 120, width: 480, height: 128 })
    const d = x.data as Float32Array
    const plane = 128 * 480
    expect(d[0]).toBeCloseTo((1 - 0.485) / 0.229, 5)
    expect(d[plane]).toBeCloseTo((1 - 0.456) / 0.224, 5)
    expect(d[2 * plane]).toBeCloseTo((1 - 0.406) / 0.225, 5)
  })

  it('puts blue in channel 0 and red in channel 2', () => {
    const img = image(32, 32)
    for (let i = 0; i < 32 * 32; i++) { img.data[i * 4] = 255; img.data[i * 4 + 1] = 0; img.data[i * 4 + 2] = 0 }
    const d = detPreprocess(img).x.data as Float32Array
    expect(d[0]).toBeCloseTo((0 - 0.485) / 0.229, 5)
    expect(d[2 * 1024]).toBeCloseTo((1 - 0.406) / 0.225, 5)
  })

  it('shrinks the longer side to limitSideLen, never enlarges', () => {
    expect(detPreprocess(image(2000, 500)).x.dims).toEqual([1, 3, 256, 960])
    expect(detPreprocess(image(2000, 500), { limitSideLen: 480 }).x.dims).toEqual([1, 3, 128, 480])
    expect(detPreprocess(image(10, 10)).x.dims).toEqual([1, 3, 32, 32])
  })
})

describe('cropImage', () => {
  it('copies the boxed pixels and rejects boxes outside the image', () => {
    const img: RgbaImage = { width: 4, height: 2, data: Uint8ClampedArray.from({ length: 32 }, (_, i) => i) }
    const c = cropImage(img, { x: 1, y: 1, width: 2, height: 1 })
    expect(c.width).toBe(2)
    expect(Array.from(c.data)).toEqual([20, 21, 22, 23, 24, 25, 26, 27])
    expect(() => cropImage(img, { x: 10, y: 0, width: 2, height: 2 })).toThrow(expect.objectContaining({ name: 'InvalidImageError' }))
  })
})
