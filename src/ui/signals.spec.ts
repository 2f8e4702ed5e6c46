import { describe, expect, it } from 'vitest'
import { ContributionControls } from '../core/controls.js'
import type { ControlSignal } from '../core/controls.js'
import { watchAll, watchBattery, watchPressure, watchVisibility } from './signals.js'
import type { BatteryLike, PressureObserverConstructor, PressureRecordLike } from './signals.js'

/** An EventTarget with a settable property, dispatching plain Events. */
class FakeDocument extends EventTarget {
  hidden = false
  setHidden (hidden: boolean): void { this.hidden = hidden; this.dispatchEvent(new Event('visibilitychange')) }
  listeners = 0
  override addEventListener (type: string, l: EventListenerOrEventListenerObject | null): void { this.listeners++; super.addEventListener(type, l) }
  override removeEventListener (type: string, l: EventListenerOrEventListenerObject | null): void { this.listeners--; super.removeEventListener(type, l) }
}

class FakeBattery extends EventTarget implements BatteryLike {
  charging = true
  unplug (charging = false): void { this.charging = charging; this.dispatchEvent(new Event('chargingchange')) }
}

/** A PressureObserver double: `report` plays the browser; `refuse` makes observe() reject like a cross-origin iframe without allow="compute-pressure". */
function fakePressure (behaviour: { refuse?: string } = {}): { Ctor: PressureObserverConstructor, report: (records: PressureRecordLike[]) => void, observing: () => number, options: unknown[] } {
  const live = new Set<(records: PressureRecordLike[]) => void>()
  const options: unknown[] = []
  class FakeObserver {
    constructor (private readonly callback: (records: PressureRecordLike[]) => void) {}
    async observe (source: 'cpu', o?: { sampleInterval?: number }): Promise<void> {
      options.push({ source, ...o })
      if (behaviour.refuse != null) throw new DOMException('refused', behaviour.refuse)
      live.add(this.callback)
    }

    disconnect (): void { live.delete(this.callback) }
  }
  return { Ctor: FakeObserver, report: (records) => { for (const cb of live) cb(records) }, observing: () => live.size, options }
}

function collector (): { emit: (s: ControlSignal) => void, seen: ControlSignal[] } {
  const seen: ControlSignal[] = []
  return { emit: (s) => { seen.push(s) }, seen }
}

describe('watchVisibility', () => {
  it('emits the current visibility, then each change, until unsubscribed', () => {
    const doc = new FakeDocument()
    doc.hidden = true
    const { emit, seen } = collector()
    const stop = watchVisibility(doc, emit)
    doc.setHidden(false)
    stop()
    doc.setHidden(true)
    expect(seen).toEqual([{ type: 'visibility', hidden: true }, { type: 'visibility', hidden: false }])
    expect(doc.listeners).toBe(0)
  })

  it('is a no-op without a document', () => {
    const { emit, seen } = collector()
    watchVisibility(undefined, emit)()
    expect(seen).toEqual([])
  })
})

describe('watchBattery', () => {
  it('emits the charging state once known, then each change', async () => {
    const battery = new FakeBattery()
    const { emit, seen } = collector()
    const stop = watchBattery({ getBattery: async () => battery }, emit)
    await expect.poll(() => seen.length).toBe(1)
    battery.unplug()
    stop()
    battery.unplug(true)
    expect(seen).toEqual([{ type: 'battery', charging: true }, { type: 'battery', charging: false }])
  })

  it('subscribes to nothing when unsubscribed before the battery is known', async () => {
    const battery = new FakeBattery()
    let resolve!: (b: BatteryLike) => void
    const { emit, seen } = collector()
    const stop = watchBattery({ getBattery: async () => await new Promise<BatteryLike>(r => { resolve = r }) }, emit)
    stop()
    resolve(battery)
    await Promise.resolve()
    battery.unplug()
    expect(seen).toEqual([])
  })

  it('is a no-op without getBattery, or where it is refused', async () => {
    const { emit, seen } = collector()
    watchBattery({}, emit)()
    watchBattery(undefined, emit)()
    const refused = { calls: 0 }
    const stop1 = watchBattery({ getBattery: async () => { refused.calls++; throw new DOMException('not allowed', 'NotAllowedError') } }, emit)
    const stop2 = watchBattery({ getBattery: () => { refused.calls++; throw new TypeError('illegal invocation') } }, emit)
    await expect.poll(() => refused.calls).toBe(2)
    stop1()
    stop2()
    expect(seen).toEqual([])
  })
})

describe('watchPressure', () => {
  it('emits the CPU pressure state of each report until unsubscribed', async () => {
    const p = fakePressure()
    const { emit, seen } = collector()
    const stop = watchPressure(emit, { PressureObserver: p.Ctor, sampleIntervalMs: 500 })
    await expect.poll(() => p.observing()).toBe(1)
    expect(p.options).toEqual([{ source: 'cpu', sampleInterval: 500 }])
    p.report([{ source: 'cpu', state: 'critical' }])
    p.report([{ source: 'cpu', state: 'fair' }, { source: 'cpu', state: 'nominal' }])
    p.report([{ source: 'cpu', state: 'unheard-of' }])
    stop()
    expect(p.observing()).toBe(0)
    p.report([{ source: 'cpu', state: 'critical' }])
    expect(seen).toEqual([{ type: 'pressure', state: 'critical' }, { type: 'pressure', state: 'nominal' }])
  })

  it('is a no-op without PressureObserver, or where observe is refused', async () => {
    const { emit, seen } = collector()
    watchPressure(emit)()
    const p = fakePressure({ refuse: 'NotAllowedError' })
    const stop = watchPressure(emit, { PressureObserver: p.Ctor })
    await expect.poll(() => p.options.length).toBe(1)
    stop()
    const Throwing = class { constructor () { throw new TypeError('no') } } as unknown as PressureObserverConstructor
    watchPressure(emit, { PressureObserver: Throwing })()
    expect(seen).toEqual([])
  })
})

describe('watchAll', () => {
  it('drives the controls from all three signals and unsubscribes them all', async () => {
    const controls = new ContributionControls({ startPaused: false })
    const doc = new FakeDocument()
    const battery = new FakeBattery()
    const p = fakePressure()
    const stop = watchAll(controls, { document: doc, navigator: { getBattery: async () => battery }, PressureObserver: p.Ctor })
    await expect.poll(() => p.observing()).toBe(1)

    doc.setHidden(true)
    battery.unplug()
    p.report([{ source: 'cpu', state: 'critical' }])
    expect(controls.state.reasons).toEqual(['hidden', 'battery', 'pressure'])

    doc.setHidden(false)
    battery.unplug(true)
    p.report([{ source: 'cpu', state: 'serious' }])
    expect(controls.state.paused).toBe(false)

    stop()
    doc.setHidden(true)
    expect(controls.state.paused).toBe(false)
    expect(doc.listeners).toBe(0)
    expect(p.observing()).toBe(0)
  })

  it('does not watch the signals whose option is off', () => {
    const controls = new ContributionControls({ pauseOnBattery: false, pauseOnPressure: false })
    let asked = 0
    const p = fakePressure()
    const doc = new FakeDocument()
    const stop = watchAll(controls, { document: doc, navigator: { getBattery: async () => { asked++; return new FakeBattery() } }, PressureObserver: p.Ctor })
    expect(asked).toBe(0)
    expect(p.options).toEqual([])
    expect(doc.listeners).toBe(1)
    stop()
  })
})
