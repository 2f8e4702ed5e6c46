/**
 * Test-only helpers for the `*.fuzz.spec.ts` property tests: hostile values,
 * mutations of valid encodings, and the one assertion they all make: a
 * decoder returns or throws one of our named errors, never a TypeError,
 * RangeError or anything else, and never hangs.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(bytesFrom([encodeModelRequest(HASH)]), (bytes) => {
 *   expectNamed(() => decodeModelRequest(bytes, 1024), ['InvalidMessageError', 'MessageTooLargeError'])
 * }), { numRuns: 300 })
 * ```
 */
import fc from 'fast-check'
import { CrosscheckError } from '../errors.js'

/** What a property run found: the decoded value, or the named error it threw. */
export type Outcome<T> = { ok: true, value: T } | { ok: false, error: CrosscheckError }

function describeInput (err: unknown): string {
  const e = err as { name?: unknown, message?: unknown }
  return `${String(e?.name)}: ${String(e?.message)}`
}

/** Calls `fn`; a throw must be a CrosscheckError whose name is in `names`. */
export function expectNamed<T> (fn: () => T, names: readonly string[]): Outcome<T> {
  try {
    return { ok: true, value: fn() }
  } catch (err) {
    if (err instanceof CrosscheckError && names.includes(err.name)) return { ok: false, error: err }
    throw new Error(`expected a return or one of ${names.join(', ')}, got ${describeInput(err)}`, { cause: err })
  }
}

/** `expectNamed` for async work, which must also settle within `timeoutMs`. */
export async function expectNamedAsync<T> (fn: () => Promise<T>, names: readonly string[], timeoutMs = 5000): Promise<Outcome<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const hang = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`did not settle within ${timeoutMs} ms (a hang)`)) }, timeoutMs)
  })
  try {
    return { ok: true, value: await Promise.race([fn(), hang]) }
  } catch (err) {
    if (err instanceof CrosscheckError && names.includes(err.name)) return { ok: false, error: err }
    throw new Error(`expected a result or one of ${names.join(', ')}, got ${describeInput(err)}`, { cause: err })
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------- hostile values

/**
 * Keys that break naive code: prototype keys, and `toString`/`valueOf`, which
 * make `String(obj)` and template literals throw a TypeError when they are not functions.
 */
export const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'toJSON', 'then', 'length', 'v', 'type', '']
const PRINTABLE_KEYS = HOSTILE_KEYS.filter((k) => k !== 'toString' && k !== 'valueOf')

export interface HostileInit {
  /** Include Uint8Array and BigInt (CBOR has them; JSON does not). @default true */
  bytes?: boolean
  /**
   * Include objects on which `String(v)` throws (`toString`/`valueOf` keys).
   * Turn off only to look past a known, reported bug. @default true
   */
  unprintable?: boolean
}

const edgeNumbers = fc.constantFrom(
  0, -0, 1, -1, 0.5, 255, 256, -129, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64,
  Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, NaN, 1e308, -1e-308
)

/** An object whose `toString`/`valueOf` are not functions (any ToString on it throws). */
const unprintable = fc.constantFrom<Record<string, unknown>>({ toString: 1 }, { valueOf: 'x', toString: null }, { toString: {} })

const leaf = (withBytes: boolean): fc.Arbitrary<unknown> => fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer(), edgeNumbers, fc.double(),
  fc.string({ maxLength: 24 }), fc.constantFrom('', 'a'.repeat(64), 'A'.repeat(64), 'float32', 'int64', 'bool', 'exact', 'x'.repeat(2000)),
  ...(withBytes ? [fc.uint8Array({ maxLength: 48 }), fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n })] : [])
)

function keys (init: HostileInit): fc.Arbitrary<string> {
  const hostile = init.unprintable === false ? PRINTABLE_KEYS : HOSTILE_KEYS
  return fc.oneof(fc.string({ maxLength: 8 }).filter((k) => hostile.includes(k) || !HOSTILE_KEYS.includes(k)), fc.constantFrom(...hostile))
}

/** Values to put where a decoder expects something else. */
export function hostileValue (init: HostileInit = {}): fc.Arbitrary<unknown> {
  const withBytes = init.bytes !== false
  return fc.oneof(
    { weight: 4, arbitrary: leaf(withBytes) },
    { weight: init.unprintable === false ? 0 : 1, arbitrary: unprintable },
    { weight: 1, arbitrary: fc.constantFrom<unknown>({}, [], [[]], [{}]) },
    { weight: 1, arbitrary: fc.array(fc.oneof(fc.integer(), edgeNumbers), { maxLength: 10 }) },
    { weight: 1, arbitrary: fc.dictionary(keys(init), leaf(withBytes), { maxKeys: 4 }) },
    { weight: 1, arbitrary: fc.array(leaf(withBytes), { maxLength: 6 }) }
  )
}

// ---------------------------------------------------------------- structural mutations

type Path = Array<string | number>

/** A map or array to descend into (byte arrays count as leaves). */
function isContainer (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !ArrayBuffer.isView(v)
}

function paths (v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at)
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out))
  else if (isContainer(v)) for (const k of Object.keys(v)) paths(v[k], [...at, k], out)
  return out
}

function setOwn (o: Record<string, unknown>, k: string, value: unknown): void {
  // defineProperty: a plain assignment to '__proto__' would change the prototype
  Object.defineProperty(o, k, { value, enumerable: true, configurable: true, writable: true })
}

export type Mutation = { op: 'replace' | 'delete' | 'add' | 'wrap' | 'dup', pick: number, key: string, value: unknown }

/**
 * Applies one mutation to (a clone of) `root` at the `pick`-th node below the
 * root, depth first (the root itself only when it has no children: replacing
 * the whole message is what random input already does).
 */
export function mutateValue (root: unknown, m: Mutation): unknown {
  const all = paths(root)
  const inner = all.length > 1 ? all.slice(1) : all
  const path = inner[m.pick % inner.length]
  const clone = structuredClone(root)
  if (path.length === 0) {
    if (m.op === 'wrap') return [clone]
    if (m.op === 'add' && isContainer(clone) && !Array.isArray(clone)) { setOwn(clone, m.key, m.value); return clone }
    return m.value
  }
  let parent: any = clone
  for (const p of path.slice(0, -1)) parent = parent[p]
  const last = path[path.length - 1]
  const target = parent[last]
  switch (m.op) {
    case 'replace': setOwn(parent, String(last), m.value); break
    case 'delete': if (Array.isArray(parent)) parent.splice(last as number, 1); else delete parent[last]; break
    case 'wrap': setOwn(parent, String(last), [target]); break
    case 'dup': if (Array.isArray(parent)) parent.splice(last as number, 0, structuredClone(target)); else setOwn(parent, String(last), m.value); break
    case 'add':
      if (Array.isArray(target)) target.push(m.value)
      else if (isContainer(target)) setOwn(target, m.key, m.value)
      else setOwn(parent, String(last), m.value)
      break
  }
  return clone
}

/** 1-3 structural mutations of one of `valid` (replace/delete/add/wrap/duplicate a field, change its type). */
export function mutatedValue (valid: readonly unknown[], init: HostileInit = {}): fc.Arbitrary<unknown> {
  const mutation: fc.Arbitrary<Mutation> = fc.record({
    op: fc.constantFrom('replace', 'replace', 'replace', 'delete', 'add', 'wrap', 'dup'),
    pick: fc.nat(),
    key: keys(init),
    value: hostileValue(init)
  })
  return fc.tuple(fc.constantFrom(...valid), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([v, ms]) => ms.reduce<unknown>((acc, m) => mutateValue(acc, m), v))
}

// ---------------------------------------------------------------- byte mutations

/** Flip, set, truncate, extend, insert, delete and splice bytes of one of `valid`. */
export function mutatedBytes (valid: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x1b, 0x5b, 0x9f, 0xbf, 0xf6, 0xf7, 0xfb) }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('extend' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), extra: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) })
  )
  return fc.tuple(fc.constantFrom(...valid), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([orig, edits]) => {
    // a copy, as a plain Uint8Array: Buffer#slice (protobufjs, cborg in Node) is a view and would edit `valid` itself
    let b: Uint8Array = Uint8Array.from(orig)
    for (const e of edits) {
      const at = b.length === 0 ? 0 : ('at' in e ? e.at % b.length : 0)
      switch (e.op) {
        case 'flip': if (b.length > 0) b[at] ^= 1 << e.bit; break
        case 'set': if (b.length > 0) b[at] = e.byte; break
        case 'truncate': b = b.slice(0, at); break
        case 'extend': b = concat(b, e.extra); break
        case 'insert': b = concat(b.slice(0, at), e.extra, b.slice(at)); break
        case 'delete': b = concat(b.slice(0, at), b.slice(at + e.len)); break
      }
    }
    return b
  })
}

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/** Text edits: drop, duplicate or replace characters, truncate, append junk. */
export function mutatedText (valid: readonly string[]): fc.Arbitrary<string> {
  const edit = fc.record({
    op: fc.constantFrom('drop', 'dup', 'replace', 'truncate', 'append'),
    at: fc.nat(),
    text: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('"', '{', '}', '[', ']', ',', ':', '\\', '\\u0000', 'null', '-0', '1e999', '\n', '\u2028', '"toString":1'))
  })
  return fc.tuple(fc.constantFrom(...valid), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([orig, edits]) => {
    let s = orig
    for (const e of edits) {
      const at = s.length === 0 ? 0 : e.at % s.length
      switch (e.op) {
        case 'drop': s = s.slice(0, at) + s.slice(at + 1); break
        case 'dup': s = s.slice(0, at + 1) + s.slice(at); break
        case 'replace': s = s.slice(0, at) + e.text + s.slice(at + 1); break
        case 'truncate': s = s.slice(0, at); break
        case 'append': s = s + e.text; break
      }
    }
    return s
  })
}
