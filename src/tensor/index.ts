/**
 * Tensors as Crosscheck sees them, and their canonical bytes.
 *
 * Hashes are always taken over canonical bytes (dtype, dims, little-endian
 * data, inputs sorted by name), never over JSON of floats.
 *
 * @example
 * ```ts
 * const inputs = tensorsFromJSON({ x: { dtype: 'float32', dims: [1, 4], data: [1, 2, 3, 4] } })
 * const inputHash = hashTensors(inputs) // 64 lowercase hex chars
 * ```
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { InvalidTensorError, showValue } from '../errors.js'

export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool'
export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'int64', 'uint8', 'int8', 'bool']

export type TypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array

export interface Tensor {
  dtype: DType
  dims: number[]
  data: TypedArray
}

export type NamedTensors = Record<string, Tensor>

/** Largest tensor accepted anywhere (elements). 64 Mi elements. */
export const MAX_TENSOR_ELEMENTS = 64 * 1024 * 1024
export const MAX_TENSOR_RANK = 8
export const MAX_TENSORS = 64

const DTYPE_CODE: Record<DType, number> = { float32: 1, float64: 2, int32: 3, int64: 4, uint8: 5, int8: 6, bool: 7 }
const BYTES_PER_ELEMENT: Record<DType, number> = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1, int8: 1, bool: 1 }

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Typed arrays are host-endian; canonical bytes are little-endian.
  throw new Error('crosscheck requires a little-endian host')
}

/** Integer dtypes' ranges: JSON values outside them are refused, not wrapped by the typed array. */
const INT_RANGE: Partial<Record<DType, readonly [number, number]>> = { int32: [-(2 ** 31), 2 ** 31 - 1], uint8: [0, 255], int8: [-128, 127] }
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

export function isDType (v: unknown): v is DType {
  return typeof v === 'string' && (DTYPES as readonly string[]).includes(v)
}

export function bytesPerElement (dtype: DType): number {
  return BYTES_PER_ELEMENT[dtype]
}

export function elementCount (dims: readonly number[]): number {
  let n = 1
  for (const d of dims) n *= d
  return n
}

function validateDims (dims: unknown, where: string): number[] {
  if (!Array.isArray(dims) || dims.length > MAX_TENSOR_RANK) {
    throw new InvalidTensorError(`${where}: dims must be an array of at most ${MAX_TENSOR_RANK} integers`)
  }
  for (const d of dims) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new InvalidTensorError(`${where}: dims must be non-negative integers, got ${showValue(d)}`)
    }
  }
  if (elementCount(dims) > MAX_TENSOR_ELEMENTS) {
    throw new InvalidTensorError(`${where}: more than ${MAX_TENSOR_ELEMENTS} elements`)
  }
  // -0 passes every check above (JSON and CBOR can carry it): store it as 0
  return dims.map((d: number) => (d === 0 ? 0 : d))
}

function arrayFor (dtype: DType, buf: ArrayBuffer, offset: number, length: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buf, offset, length)
    case 'float64': return new Float64Array(buf, offset, length)
    case 'int32': return new Int32Array(buf, offset, length)
    case 'int64': return new BigInt64Array(buf, offset, length)
    case 'uint8': case 'bool': return new Uint8Array(buf, offset, length)
    case 'int8': return new Int8Array(buf, offset, length)
  }
}

function matchesDType (dtype: DType, data: TypedArray): boolean {
  switch (dtype) {
    case 'float32': return data instanceof Float32Array
    case 'float64': return data instanceof Float64Array
    case 'int32': return data instanceof Int32Array
    case 'int64': return data instanceof BigInt64Array
    case 'uint8': case 'bool': return data instanceof Uint8Array
    case 'int8': return data instanceof Int8Array
  }
}

/** Builds a tensor, checking that dtype, dims and data agree. */
export function createTensor (dtype: DType, dims: readonly number[], data: TypedArray): Tensor {
  const d = validateDims(dims, 'tensor')
  if (!matchesDType(dtype, data)) throw new InvalidTensorError(`data is not a ${dtype} array`)
  if (data.length !== elementCount(d)) {
    throw new InvalidTensorError(`dims ${JSON.stringify(d)} need ${elementCount(d)} elements, data has ${data.length}`)
  }
  return { dtype, dims: d, data }
}

/** Little-endian bytes of a tensor's data (a view, no copy). */
export function tensorBytes (t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
}

/** Builds a tensor from little-endian bytes (copies, so alignment is always right). */
export function tensorFromBytes (dtype: DType, dims: readonly number[], bytes: Uint8Array): Tensor {
  if (!isDType(dtype)) throw new InvalidTensorError(`unknown dtype ${showValue(dtype)}`)
  const d = validateDims(dims, 'tensor')
  const n = elementCount(d)
  if (bytes.byteLength !== n * BYTES_PER_ELEMENT[dtype]) {
    throw new InvalidTensorError(`${dtype}${JSON.stringify(d)} needs ${n * BYTES_PER_ELEMENT[dtype]} bytes, got ${bytes.byteLength}`)
  }
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  return { dtype, dims: d, data: arrayFor(dtype, copy.buffer, 0, n) }
}

/**
 * Canonical bytes of a set of named tensors: for each name in sorted order,
 * u32 name length, name (utf-8), u8 dtype code, u8 rank, u64 dims, u64 data
 * length, data (little-endian). Deterministic across runtimes.
 */
export function canonicalBytes (tensors: NamedTensors): Uint8Array {
  const names = Object.keys(tensors).sort()
  const parts: Uint8Array[] = []
  let total = 0
  for (const name of names) {
    const t = tensors[name]
    const data = tensorBytes(t)
    const head = canonicalHead(name, t, data.byteLength)
    parts.push(head, data)
    total += head.length + data.length
  }
  const out = new Uint8Array(total)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/** sha256 of bytes as 64 lowercase hex characters. */
export function sha256Hex (bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes))
}

/**
 * Below this many bytes JavaScript SHA-256 is used even where WebCrypto is
 * available: `subtle.digest` costs a promise and a task hop (tens of µs), JS
 * costs about 8 ns per byte.
 */
export const SUBTLE_HASH_MIN_BYTES = 4 * 1024

const subtle: SubtleCrypto | undefined = (globalThis as { crypto?: Crypto }).crypto?.subtle

/**
 * sha256 of bytes as hex, with WebCrypto above SUBTLE_HASH_MIN_BYTES (about
 * 10× faster than JavaScript SHA-256 on a megabyte, and off the JS thread
 * while it runs), JavaScript below it or where WebCrypto is missing.
 */
export async function sha256HexAsync (bytes: Uint8Array): Promise<string> {
  if (subtle === undefined || bytes.byteLength < SUBTLE_HASH_MIN_BYTES) return sha256Hex(bytes)
  return bytesToHex(new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)))
}

/**
 * Hashes already taken, by tensor set: a job's output is hashed once where it
 * arrives and every later check (vote, tally, receipt, observation) reads the
 * hash from here. Only hashes computed in this realm are kept, never a
 * claimed one. Tensor sets are treated as immutable once built.
 */
const hashed = new WeakMap<NamedTensors, string>()

function canonicalHead (name: string, t: Tensor, dataBytes: number): Uint8Array {
  const nameBytes = new TextEncoder().encode(name)
  const head = new Uint8Array(4 + nameBytes.length + 2 + 8 * t.dims.length + 8)
  const view = new DataView(head.buffer)
  view.setUint32(0, nameBytes.length, true)
  head.set(nameBytes, 4)
  let o = 4 + nameBytes.length
  view.setUint8(o++, DTYPE_CODE[t.dtype])
  view.setUint8(o++, t.dims.length)
  for (const d of t.dims) { view.setBigUint64(o, BigInt(d), true); o += 8 }
  view.setBigUint64(o, BigInt(dataBytes), true)
  return head
}

/** Bytes of the tensors' data, all tensors together (what holding or sending them costs). */
export function tensorsByteLength (tensors: NamedTensors): number {
  let n = 0
  for (const t of Object.values(tensors)) n += t.data.byteLength
  return n
}

/**
 * sha256 over the canonical bytes of named tensors, in JavaScript, streaming
 * (no copy of the data). Remembered per tensor set.
 */
export function hashTensors (tensors: NamedTensors): string {
  const known = hashed.get(tensors)
  if (known !== undefined) return known
  const h = sha256.create()
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]
    const data = tensorBytes(t)
    h.update(canonicalHead(name, t, data.byteLength)).update(data)
  }
  const hex = bytesToHex(h.digest())
  hashed.set(tensors, hex)
  return hex
}

/**
 * hashTensors with WebCrypto for large tensors (see sha256HexAsync): the same
 * hash, remembered the same way, so a later hashTensors of this set is free.
 * Call it where outputs or inputs arrive, before the checks that hash them.
 */
export async function hashTensorsAsync (tensors: NamedTensors): Promise<string> {
  const known = hashed.get(tensors)
  if (known !== undefined) return known
  if (subtle === undefined || tensorsByteLength(tensors) < SUBTLE_HASH_MIN_BYTES) return hashTensors(tensors)
  const hex = await sha256HexAsync(canonicalBytes(tensors))
  hashed.set(tensors, hex)
  return hex
}

export const SHA256_HEX = /^[0-9a-f]{64}$/

export function isSha256Hex (v: unknown): v is string {
  return typeof v === 'string' && SHA256_HEX.test(v)
}

/** Plain JSON form: `{ name: { dtype, dims, data: number[] } }` (int64 as numbers or decimal strings). */
export interface TensorJSON { dtype: DType, dims: number[], data: Array<number | string | boolean> }

/**
 * Parses the documented input format
 * `{ "<input name>": { "dtype": "float32", "dims": [...], "data": [...] } }`.
 * Throws InvalidTensorError naming the offending field.
 */
export function tensorsFromJSON (json: unknown): NamedTensors {
  if (json == null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InvalidTensorError('tensor document must be an object of { dtype, dims, data } entries')
  }
  const entries = Object.entries(json as Record<string, unknown>)
  if (entries.length === 0 || entries.length > MAX_TENSORS) {
    throw new InvalidTensorError(`tensor document must name 1 to ${MAX_TENSORS} tensors`)
  }
  const out: NamedTensors = {}
  for (const [name, value] of entries) {
    if (value == null || typeof value !== 'object') throw new InvalidTensorError(`${name}: must be { dtype, dims, data }`)
    const { dtype, dims, data } = value as Record<string, unknown>
    if (!isDType(dtype)) throw new InvalidTensorError(`${name}: unknown dtype ${showValue(dtype)} (one of ${DTYPES.join(', ')})`)
    const d = validateDims(dims, name)
    if (!Array.isArray(data)) throw new InvalidTensorError(`${name}: data must be an array`)
    const flat = data.flat(MAX_TENSOR_RANK) as unknown[]
    if (flat.length !== elementCount(d)) {
      throw new InvalidTensorError(`${name}: dims ${JSON.stringify(d)} need ${elementCount(d)} values, data has ${flat.length}`)
    }
    const arr = arrayFor(dtype, new ArrayBuffer(flat.length * BYTES_PER_ELEMENT[dtype]), 0, flat.length)
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i]
      if (dtype === 'int64') {
        if (!((typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v)))) {
          throw new InvalidTensorError(`${name}[${i}]: int64 values must be integers or decimal strings`)
        }
        const b = BigInt(v)
        if (b < INT64_MIN || b > INT64_MAX) throw new InvalidTensorError(`${name}[${i}]: ${showValue(v)} is out of the int64 range`)
        ;(arr as BigInt64Array)[i] = b
      } else if (dtype === 'bool') {
        if (typeof v !== 'boolean' && v !== 0 && v !== 1) throw new InvalidTensorError(`${name}[${i}]: bool values must be true/false/0/1`)
        arr[i] = v === true || v === 1 ? 1 : 0
      } else {
        if (typeof v !== 'number') throw new InvalidTensorError(`${name}[${i}]: must be a number`)
        if (dtype !== 'float32' && dtype !== 'float64' && !Number.isInteger(v)) {
          throw new InvalidTensorError(`${name}[${i}]: ${dtype} values must be integers`)
        }
        const range = INT_RANGE[dtype]
        if (range !== undefined && (v < range[0] || v > range[1])) {
          throw new InvalidTensorError(`${name}[${i}]: ${v} is out of the ${dtype} range ${range[0]}..${range[1]}`)
        }
        arr[i] = v
      }
    }
    out[name] = { dtype, dims: d, data: arr }
  }
  return out
}

/** The inverse of tensorsFromJSON (int64 beyond 2^53 become strings). */
export function tensorsToJSON (tensors: NamedTensors): Record<string, TensorJSON> {
  const out: Record<string, TensorJSON> = {}
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]
    let data: Array<number | string | boolean>
    if (t.data instanceof BigInt64Array) {
      data = Array.from(t.data, (v) => (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString()))
    } else {
      data = Array.from(t.data as ArrayLike<number>)
    }
    out[name] = { dtype: t.dtype, dims: [...t.dims], data }
  }
  return out
}

/** Wire form used inside CBOR messages: `{ name: { dtype, dims, data: Uint8Array } }`. */
export interface WireTensor { dtype: string, dims: number[], data: Uint8Array }

export function tensorsToWire (tensors: NamedTensors): Record<string, WireTensor> {
  const out: Record<string, WireTensor> = {}
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]
    out[name] = { dtype: t.dtype, dims: [...t.dims], data: tensorBytes(t) }
  }
  return out
}

/** Validates and decodes the wire form. Throws InvalidTensorError. */
export function tensorsFromWire (wire: unknown): NamedTensors {
  if (wire == null || typeof wire !== 'object' || Array.isArray(wire) || wire instanceof Uint8Array) {
    throw new InvalidTensorError('tensors must be a map of name to { dtype, dims, data }')
  }
  const entries = Object.entries(wire as Record<string, unknown>)
  if (entries.length > MAX_TENSORS) throw new InvalidTensorError(`more than ${MAX_TENSORS} tensors`)
  const out: NamedTensors = {}
  for (const [name, v] of entries) {
    if (v == null || typeof v !== 'object') throw new InvalidTensorError(`${name}: must be { dtype, dims, data }`)
    const { dtype, dims, data } = v as Record<string, unknown>
    if (!isDType(dtype)) throw new InvalidTensorError(`${name}: unknown dtype ${showValue(dtype)}`)
    if (!(data instanceof Uint8Array)) throw new InvalidTensorError(`${name}: data must be bytes`)
    out[name] = tensorFromBytes(dtype, validateDims(dims, name), data)
  }
  return out
}

/** Reads element i of any tensor as a JS number (int64 converted, may lose precision). */
export function elementAsNumber (t: Tensor, i: number): number {
  const v = t.data[i]
  return typeof v === 'bigint' ? Number(v) : v
}
