import { describe, it, expect } from 'vitest'
import { extensionManifest } from './manifest.js'

describe('extension manifest', () => {
  const m = extensionManifest({ version: '0.1.0' }) as Record<string, any>

  it('is Manifest V3 with a module service worker and the popup', () => {
    expect(m.manifest_version).toBe(3)
    expect(m.background).toEqual({ service_worker: 'background.js', type: 'module' })
    expect(m.action.default_popup).toBe('popup.html')
    expect(m.permissions).toEqual(expect.arrayContaining(['offscreen', 'storage', 'unlimitedStorage']))
  })

  it('lets extension pages compile WebAssembly from their own files only, cross-origin isolated', () => {
    expect(m.content_security_policy.extension_pages).toBe("script-src 'self' 'wasm-unsafe-eval'; object-src 'self'")
    expect(m.cross_origin_embedder_policy).toEqual({ value: 'require-corp' })
    expect(m.cross_origin_opener_policy).toEqual({ value: 'same-origin' })
  })

  it('takes a plain version from a pre-release and refuses a bad one', () => {
    expect(extensionManifest({ version: '1.2.3-beta.1' }).version).toBe('1.2.3')
    expect(() => extensionManifest({ version: 'x' })).toThrow()
    expect(extensionManifest({ version: '1.0.0', key: 'abc' }).key).toBe('abc')
  })
})
