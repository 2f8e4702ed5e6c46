/**
 * Browser signals → contributor-control signals (`ControlSignal`): Page
 * Visibility, the Battery Status API and the Compute Pressure API. Each
 * watcher emits the current state at once (where it can be read), then every
 * change; returns an unsubscribe function; and is a no-op where its API is
 * missing or refused, so every surface (page, widget frame, extension
 * offscreen document) can call `watchAll` unconditionally.
 *
 * @example
 * ```ts
 * const unwatch = watchAll(node.controls, { document, navigator })
 * // …
 * unwatch()
 * ```
 */
import type { ContributionControls, ControlSignal } from '../core/controls.js'
import { createLogger } from '../logger.js'

const log = createLogger('signals')

export type EmitSignal = (s: ControlSignal) => void
export type Unsubscribe = () => void

type PressureState = Extract<ControlSignal, { type: 'pressure' }>['state']
const PRESSURE_STATES: readonly string[] = ['nominal', 'fair', 'serious', 'critical'] satisfies PressureState[]

/** @default how often the Compute Pressure API may report, ms */
export const DEFAULT_PRESSURE_SAMPLE_INTERVAL_MS = 2000

/** The part of `document` used here. */
export interface DocumentLike {
  readonly hidden: boolean
  addEventListener (type: 'visibilitychange', listener: () => void): void
  removeEventListener (type: 'visibilitychange', listener: () => void): void
}

/** The part of a BatteryManager used here (TypeScript's DOM types have none). */
export interface BatteryLike {
  readonly charging: boolean
  addEventListener (type: 'chargingchange', listener: () => void): void
  removeEventListener (type: 'chargingchange', listener: () => void): void
}

/** `navigator.getBattery` (Chromium only). */
export interface NavigatorLike { getBattery?: () => Promise<BatteryLike> }

export interface PressureRecordLike { source?: string, state: string }
export interface PressureObserverLike {
  observe (source: 'cpu', options?: { sampleInterval?: number }): Promise<void>
  disconnect (): void
}
/** `PressureObserver` (Chromium 125+). */
export type PressureObserverConstructor = new (callback: (records: PressureRecordLike[]) => void) => PressureObserverLike

/** Emits `{ type: 'visibility', hidden }` now and on every 'visibilitychange'. An iframe sees its parent's visibility. */
export function watchVisibility (doc: DocumentLike | undefined, emit: EmitSignal): Unsubscribe {
  if (doc == null || typeof doc.addEventListener !== 'function') return () => {}
  const onChange = (): void => { emit({ type: 'visibility', hidden: doc.hidden }) }
  doc.addEventListener('visibilitychange', onChange)
  onChange()
  return () => { doc.removeEventListener('visibilitychange', onChange) }
}

/**
 * Emits `{ type: 'battery', charging }` once the battery is known and on every
 * 'chargingchange'. A no-op without `navigator.getBattery` (Firefox, Safari) or
 * where it is refused (a cross-origin iframe without the `battery` permission
 * policy rejects with NotAllowedError). Desktops without a battery report charging.
 */
export function watchBattery (nav: NavigatorLike | Navigator | undefined, emit: EmitSignal): Unsubscribe {
  const getBattery = (nav as NavigatorLike | undefined)?.getBattery
  if (typeof getBattery !== 'function') return () => {}
  let stopped = false
  let unsubscribe = (): void => {}
  void (async () => {
    // the promise, or the call itself, may fail: both mean "no battery signal"
    const battery = await getBattery.call(nav)
    if (stopped) return
    const onChange = (): void => { emit({ type: 'battery', charging: battery.charging }) }
    battery.addEventListener('chargingchange', onChange)
    unsubscribe = () => { battery.removeEventListener('chargingchange', onChange) }
    onChange()
  })().catch((err: unknown) => { log('no battery signal: %s', (err as Error)?.name ?? err) })
  return () => {
    stopped = true
    unsubscribe()
  }
}

/**
 * Emits `{ type: 'pressure', state }` for the CPU as the Compute Pressure API
 * reports it (on change only; there is no state until the first report). A
 * no-op without `PressureObserver` or where `observe` is refused: cross-origin
 * iframes need `allow="compute-pressure"`, and some platforms have no 'cpu' source.
 */
export function watchPressure (emit: EmitSignal, options: { PressureObserver?: PressureObserverConstructor, sampleIntervalMs?: number } = {}): Unsubscribe {
  const Observer = options.PressureObserver ?? (globalThis as { PressureObserver?: PressureObserverConstructor }).PressureObserver
  if (typeof Observer !== 'function') return () => {}
  let observer: PressureObserverLike
  try {
    observer = new Observer((records) => {
      const last = records.filter(r => (r.source ?? 'cpu') === 'cpu').at(-1)
      if (last != null && PRESSURE_STATES.includes(last.state)) emit({ type: 'pressure', state: last.state as PressureState })
    })
  } catch (err) {
    log('no pressure signal: %s', (err as Error)?.name ?? err)
    return () => {}
  }
  let stopped = false
  const stop = (): void => {
    if (stopped) return
    stopped = true
    observer.disconnect()
  }
  // observe() may also throw synchronously in odd builds: treat it as a rejection
  Promise.resolve().then(async () => { await observer.observe('cpu', { sampleInterval: options.sampleIntervalMs ?? DEFAULT_PRESSURE_SAMPLE_INTERVAL_MS }) }).catch((err: unknown) => {
    log('no pressure signal: %s', (err as Error)?.name ?? err)
    stop()
  })
  return stop
}

export interface SignalSources {
  /** @default globalThis.document */
  document?: DocumentLike | Document
  /** @default globalThis.navigator */
  navigator?: NavigatorLike | Navigator
  /** @default globalThis.PressureObserver */
  PressureObserver?: PressureObserverConstructor
}

/**
 * Wires visibility, battery and pressure to `controls`, skipping the signals
 * whose option is off (so a page that never pauses on battery never asks for
 * it). One unsubscribe for all three.
 */
export function watchAll (controls: Pick<ContributionControls, 'signal' | 'options'>, sources: SignalSources = {}): Unsubscribe {
  const g = globalThis as { document?: DocumentLike, navigator?: NavigatorLike }
  const emit: EmitSignal = (s) => { controls.signal(s) }
  const stops: Unsubscribe[] = []
  if (controls.options.pauseWhenHidden) stops.push(watchVisibility(sources.document ?? g.document, emit))
  if (controls.options.pauseOnBattery) stops.push(watchBattery(sources.navigator ?? g.navigator, emit))
  if (controls.options.pauseOnPressure) stops.push(watchPressure(emit, { PressureObserver: sources.PressureObserver }))
  return () => { for (const stop of stops) stop() }
}
