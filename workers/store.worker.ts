/**
 * The store's worker: the page's IndexedDB work (receipts, job history,
 * pending jobs, reputation, models) runs here, off the page's main thread.
 * All of it is in src/storage/remote.ts; this file only exposes it.
 */
import * as Comlink from 'comlink'
import { createStoreWorkerApi } from '../src/storage/remote.js'

Comlink.expose(createStoreWorkerApi())
