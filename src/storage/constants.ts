/**
 * Limits and defaults of the IndexedDB store.
 */

/**
 * Models at least this large ask `navigator.storage.estimate()` first, and
 * evict least-recently-used models up front when the estimate says they will
 * not fit. Smaller writes skip the (async, approximate) estimate and rely on
 * the browser's QuotaExceededError alone.
 */
export const ESTIMATE_ABOVE_BYTES = 1024 * 1024

/**
 * Error names browsers use when an origin is over its storage quota.
 * `NS_ERROR_DOM_QUOTA_REACHED` is older Firefox's name for the same thing.
 */
export const QUOTA_ERROR_NAMES: readonly string[] = ['QuotaExceededError', 'NS_ERROR_DOM_QUOTA_REACHED']
