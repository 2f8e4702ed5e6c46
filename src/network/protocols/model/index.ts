/**
 * The model transfer protocol, `/crosscheck/model/2.0.0`, over direct links
 * only. A fetcher asks each holder for the model's manifest (size, chunk
 * size, one sha256 per chunk), then for runs of chunks, from up to 4 holders
 * at once with a few requests in flight on each; chunks are checked as they
 * arrive and the whole model at the end. A holder computes a model's chunk
 * hashes once and keeps them (16 models).
 *
 * The serving side reports progress as `'model:upload'` events
 * `{ peerId, sha256, sent, total }`, at most once per `uploadProgressBytes`
 * plus a final one, so a contributor can show what it is uploading to whom.
 *
 * @example
 * ```ts
 * const models = modelProtocol()({ registrar: node, links })
 * models.serve(async (sha256) => await store.getModelBytes(sha256))
 * models.addEventListener('model:upload', (evt) => drawUpload(evt.detail))
 * await models.start()
 * const bytes = await models.fetchFrom([holderA, holderB, holderC], sha256, { onProgress, signal })
 * ```
 */
import { ModelProtocol } from './model.js'
import type { ModelProtocolComponents, ModelProtocolInit } from './types.js'

export { ModelProtocol }
export type { ModelProvider, ModelUploadProgress } from './handler.js'
export type { ModelFetchProgress } from './client.js'
export type { ModelFetchOptions, ModelProtocolComponents, ModelProtocolEvents, ModelProtocolInit } from './types.js'
export { MODEL_PROTOCOL, MODEL_CHUNK_BYTES } from './constants.js'

export function modelProtocol (init: ModelProtocolInit = {}): (components: ModelProtocolComponents) => ModelProtocol {
  return (components) => new ModelProtocol(components, init)
}
