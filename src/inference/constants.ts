/** Defaults and limits of the main-thread inference side. */

/** Largest model the registry downloads or accepts from peers (bytes). Matches the manifest's own limit. */
export const MAX_MODEL_BYTES = 512 * 1024 * 1024

/** Where the registry finds the catalog, relative to the page. */
export const DEFAULT_MANIFEST_PATH = 'models/manifest.json'

/** Progress events are dispatched at most this often per download (bytes), plus once at the end. */
export const PROGRESS_STEP_BYTES = 256 * 1024

