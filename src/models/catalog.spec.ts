import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256Hex } from '../tensor/index.js'
import { buildCatalog, OCR_DET_OUTPUT, OCR_REC_OUTPUT, resolveModel, writeCatalog } from './catalog.js'
import type { Catalog } from './catalog.js'
import { MANIFEST_PATH, parseManifest, validateManifest } from './manifest.js'

let catalog: Catalog
beforeAll(async () => { catalog = await buildCatalog() })

describe('buildCatalog', () => {
  it('yields a manifest that validates and whose hashes match the bytes', () => {
    const { manifest, files } = catalog
    expect(validateManifest(JSON.parse(JSON.stringify(manifest)))).toEqual(manifest)
    expect(manifest.models.map((m) => m.id)).toEqual(['mlp', 'cnn', 'ocr-det', 'ocr-rec'])
    expect(manifest.extras.map((e) => e.id)).toEqual(['ocr-keys'])
    for (const entry of [...manifest.models, ...manifest.extras]) {
      const file = files.find((f) => f.path === entry.file)
      expect(file, entry.id).toBeDefined()
      expect(sha256Hex(file!.bytes)).toBe(entry.sha256)
      expect(file!.bytes.byteLength).toBe(entry.bytes)
    }
  })

  it('reads signatures from the models themselves', () => {
    const byId = Object.fromEntries(catalog.manifest.models.map((m) => [m.id, m]))
    expect(byId.mlp.inputs).toEqual({ x: { dtype: 'float32', dims: [1, 16] } })
    expect(byId.cnn.inputs).toEqual({ x: { dtype: 'float32', dims: [1, 1, 8, 8] } })
    expect(byId['ocr-det'].inputs).toEqual({ x: { dtype: 'float32', dims: [-1, 3, -1, -1] } })
    expect(byId['ocr-det'].outputs).toEqual([OCR_DET_OUTPUT])
    expect(byId['ocr-det'].policy).toEqual({ kind: 'mask', threshold: 0.3, maxMismatch: 0.001, output: OCR_DET_OUTPUT })
    expect(byId['ocr-rec'].inputs).toEqual({ x: { dtype: 'float32', dims: [-1, 3, 48, -1] } })
    expect(byId['ocr-rec'].outputs).toEqual([OCR_REC_OUTPUT])
    expect(byId['ocr-rec'].policy.kind).toBe('ctc-text')
  })
})

describe('writeCatalog', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'crosscheck-catalog-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('writes the files and a manifest that describes them', async () => {
    await writeCatalog(dir)
    const manifest = parseManifest(await readFile(join(dir, MANIFEST_PATH), 'utf8'))
    expect(manifest).toEqual(catalog.manifest)
    for (const entry of [...manifest.models, ...manifest.extras]) {
      expect(sha256Hex(new Uint8Array(await readFile(join(dir, entry.file))))).toBe(entry.sha256)
    }
    await writeCatalog(dir) // idempotent
  })
})

describe('resolveModel', () => {
  it('resolves ids, sha256s and file paths', async () => {
    const mlp = catalog.manifest.models[0]
    const byId = await resolveModel('mlp')
    expect(byId.entry?.id).toBe('mlp')
    expect(byId.sha256).toBe(mlp.sha256)
    expect((await resolveModel(mlp.sha256)).entry?.id).toBe('mlp')

    const dir = await mkdtemp(join(tmpdir(), 'crosscheck-model-'))
    try {
      const path = join(dir, 'm.onnx')
      await writeFile(path, byId.bytes)
      const byPath = await resolveModel(path)
      expect(byPath.sha256).toBe(mlp.sha256)
      expect(byPath.entry?.id).toBe('mlp')
      await writeFile(path, new Uint8Array([1, 2, 3]))
      const unknown = await resolveModel(path)
      expect(unknown.entry).toBeUndefined()
      expect(unknown.sha256).toBe(sha256Hex(new Uint8Array([1, 2, 3])))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('throws ModelNotFoundError for anything else', async () => {
    await expect(resolveModel('no-such-model')).rejects.toMatchObject({ name: 'ModelNotFoundError' })
    await expect(resolveModel('f'.repeat(64))).rejects.toMatchObject({ name: 'ModelNotFoundError' })
  })
})
