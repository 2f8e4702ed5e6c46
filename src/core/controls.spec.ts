import { describe, expect, it } from 'vitest'
import { ContributionControls, isSelectable } from './controls.js'
import type { ControlState } from './controls.js'

function recorder (c: ContributionControls): ControlState[] {
  const seen: ControlState[] = []
  c.addEventListener('controls:change', (e) => { seen.push(e.detail) })
  return seen
}

describe('ContributionControls', () => {
  it('starts paused by the user until resumed, with a full share', () => {
    const c = new ContributionControls()
    expect(c.state).toEqual({ paused: true, reasons: ['user'], cpuShare: 1 })
    c.resume()
    expect(c.state).toEqual({ paused: false, reasons: [], cpuShare: 1 })
  })

  it('can start contributing at once', () => {
    expect(new ContributionControls({ startPaused: false }).state.paused).toBe(false)
  })

  it('emits controls:change only when the state changes', () => {
    const c = new ContributionControls({ startPaused: false })
    const seen = recorder(c)
    c.resume()
    c.signal({ type: 'visibility', hidden: false })
    c.signal({ type: 'battery', charging: true })
    c.signal({ type: 'pressure', state: 'fair' })
    c.setCpuShare(1)
    expect(seen).toEqual([])
    c.signal({ type: 'visibility', hidden: true })
    c.signal({ type: 'visibility', hidden: true })
    c.pause()
    c.setCpuShare(0.25)
    expect(seen).toEqual([
      { paused: true, reasons: ['hidden'], cpuShare: 1 },
      { paused: true, reasons: ['user', 'hidden'], cpuShare: 1 },
      { paused: true, reasons: ['user', 'hidden'], cpuShare: 0.25 }
    ])
  })

  it('lists reasons in a stable order whatever order they arrived in', () => {
    const c = new ContributionControls({ startPaused: false })
    c.signal({ type: 'pressure', state: 'critical' })
    c.signal({ type: 'battery', charging: false })
    c.signal({ type: 'visibility', hidden: true })
    c.pause()
    expect(c.state.reasons).toEqual(['user', 'hidden', 'battery', 'pressure'])
  })

  it('resume clears only the user pause', () => {
    const c = new ContributionControls()
    c.signal({ type: 'battery', charging: false })
    c.resume()
    expect(c.state).toEqual({ paused: true, reasons: ['battery'], cpuShare: 1 })
    c.signal({ type: 'battery', charging: true })
    expect(c.state.paused).toBe(false)
  })

  it('pauses only on critical pressure and un-pauses on any lower state', () => {
    const c = new ContributionControls({ startPaused: false })
    c.signal({ type: 'pressure', state: 'serious' })
    expect(c.state.paused).toBe(false)
    c.signal({ type: 'pressure', state: 'critical' })
    expect(c.state.reasons).toEqual(['pressure'])
    c.signal({ type: 'pressure', state: 'serious' })
    expect(c.state.paused).toBe(false)
  })

  it('ignores the signals whose option is off', () => {
    const c = new ContributionControls({ startPaused: false, pauseWhenHidden: false, pauseOnBattery: false, pauseOnPressure: false })
    const seen = recorder(c)
    c.signal({ type: 'visibility', hidden: true })
    c.signal({ type: 'battery', charging: false })
    c.signal({ type: 'pressure', state: 'critical' })
    expect(c.state.paused).toBe(false)
    expect(seen).toEqual([])
  })

  it('hands out copies of its state', () => {
    const c = new ContributionControls()
    c.state.reasons.push('battery')
    expect(c.state.reasons).toEqual(['user'])
  })

  it('refuses a share outside 0 < share <= 1 with InvalidArgumentError', () => {
    const c = new ContributionControls()
    for (const bad of [0, -0.5, 1.01, Number.NaN, Infinity]) {
      expect(() => { c.setCpuShare(bad) }).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    }
    expect(() => { c.setCpuShare('0.5' as unknown as number) }).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    expect(() => new ContributionControls({ cpuShare: 0 })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    expect(c.state.cpuShare).toBe(1)
  })

  it('rests so that compute / (compute + rest) = cpuShare', () => {
    const c = new ContributionControls({ cpuShare: 1 })
    expect(c.restAfter(100)).toBe(0)
    for (const share of [0.5, 0.25, 0.1, 0.9]) {
      c.setCpuShare(share)
      const rest = c.restAfter(120)
      expect(120 / (120 + rest)).toBeCloseTo(share, 12)
    }
    expect(c.restAfter(0)).toBe(0)
    expect(c.restAfter(-5)).toBe(0)
    expect(c.restAfter(Number.NaN)).toBe(0)
  })

  it('picks threads from the share, at least 1, and 1 without cross-origin isolation', () => {
    const c = new ContributionControls({ cpuShare: 1 })
    expect(c.threadsFor(8, true)).toBe(8)
    expect(c.threadsFor(8, false)).toBe(1)
    c.setCpuShare(0.5)
    expect(c.threadsFor(8, true)).toBe(4)
    expect(c.threadsFor(2, true)).toBe(1)
    c.setCpuShare(0.3)
    expect(c.threadsFor(8, true)).toBe(3)
    c.setCpuShare(0.1)
    expect(c.threadsFor(30, true)).toBe(3)
    expect(c.threadsFor(4, true)).toBe(1)
    expect(c.threadsFor(0, true)).toBe(1)
    expect(c.threadsFor(Number.NaN, true)).toBe(1)
  })
})

describe('isSelectable', () => {
  it('refuses paused announcements and peers that announced nothing', () => {
    expect(isSelectable({ paused: false })).toBe(true)
    expect(isSelectable({})).toBe(true)
    expect(isSelectable({ paused: true })).toBe(false)
    expect(isSelectable(undefined)).toBe(false)
  })
})
