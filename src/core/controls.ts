/**
 * Contributor controls, the same on every surface (page, widget, extension,
 * library): a user pause, a CPU share, and automatic pauses while the page is
 * hidden, on battery or under critical compute pressure — what people expect
 * from BOINC or Folding@home. Pure: no DOM and no clock; browser signals come in
 * through `signal()` (see `src/ui/signals.ts`) and times are passed in.
 *
 * @example
 * ```ts
 * const controls = new ContributionControls({ cpuShare: 0.5 })
 * controls.addEventListener('controls:change', (e) => render(e.detail))
 * controls.resume()                                   // the person chose to contribute
 * controls.signal({ type: 'visibility', hidden: true }) // → paused: ['hidden']
 * const rest = controls.restAfter(120)                // 120 ms of rest after a 120 ms job
 * ```
 */
import { TypedEventTarget } from '../events.js'
import { InvalidArgumentError } from '../errors.js'

export type PauseReason = 'user' | 'hidden' | 'battery' | 'pressure'

/** Reasons are always listed in this order, so that UIs and tests see stable arrays. */
export const PAUSE_REASONS: readonly PauseReason[] = ['user', 'hidden', 'battery', 'pressure']

export interface ContributeInit {
  /** Start paused until the person chooses to contribute. @default true */
  startPaused?: boolean
  /** Share of the CPU to use, 0 < share <= 1: a duty cycle (rest after each job) and the thread count. @default 1 */
  cpuShare?: number
  /** Pause while the page is hidden. @default true */
  pauseWhenHidden?: boolean
  /** Pause on battery power (where the Battery API exists). @default true */
  pauseOnBattery?: boolean
  /** Pause under critical compute pressure. @default true */
  pauseOnPressure?: boolean
}

export type ControlSignal =
  | { type: 'visibility', hidden: boolean }
  | { type: 'battery', charging: boolean }
  | { type: 'pressure', state: 'nominal' | 'fair' | 'serious' | 'critical' }

export interface ControlState {
  /** True while any reason holds. */
  paused: boolean
  /** Why, in `PAUSE_REASONS` order; empty when contributing. */
  reasons: PauseReason[]
  cpuShare: number
}

export interface ContributionControlsEvents {
  'controls:change': CustomEvent<ControlState>
}

/** Throws InvalidArgumentError unless 0 < share <= 1. */
export function validateCpuShare (share: unknown): number {
  if (typeof share !== 'number' || !Number.isFinite(share) || share <= 0 || share > 1) {
    throw new InvalidArgumentError(`cpuShare must be a number with 0 < share <= 1, got ${String(share)}`)
  }
  return share
}

/**
 * Whether a requester may pick a peer by its announcement. A peer that
 * announced itself paused takes no jobs; one with no announcement has not said
 * it contributes at all. Announcements from before `paused` existed count as
 * not paused.
 */
export function isSelectable (a: { paused?: boolean } | undefined): boolean {
  return a != null && a.paused !== true
}

export class ContributionControls extends TypedEventTarget<ContributionControlsEvents> {
  /** The options in force, defaults applied (signals for disabled options are ignored, and need not be watched). */
  readonly options: Readonly<Required<ContributeInit>>
  private cpuShare: number
  // raw conditions, kept even when an option ignores them, so that the reasons
  // are always a pure function of (conditions, options)
  private userPaused: boolean
  private hidden = false
  private onBattery = false
  private critical = false
  private last: ControlState

  constructor (init: ContributeInit = {}) {
    super()
    this.options = Object.freeze({
      startPaused: init.startPaused ?? true,
      cpuShare: validateCpuShare(init.cpuShare ?? 1),
      pauseWhenHidden: init.pauseWhenHidden ?? true,
      pauseOnBattery: init.pauseOnBattery ?? true,
      pauseOnPressure: init.pauseOnPressure ?? true
    })
    this.cpuShare = this.options.cpuShare
    this.userPaused = this.options.startPaused
    this.last = this.compute()
  }

  /** A fresh copy: callers may keep or change it. */
  get state (): ControlState {
    return { ...this.last, reasons: [...this.last.reasons] }
  }

  /** The person pauses. */
  pause (): void {
    this.userPaused = true
    this.update()
  }

  /** Clears the person's pause; hidden, battery or pressure may still hold. */
  resume (): void {
    this.userPaused = false
    this.update()
  }

  /** 0 < share <= 1 (InvalidArgumentError otherwise). The duty cycle applies from the next job; threads from the next runtime start. */
  setCpuShare (share: number): void {
    this.cpuShare = validateCpuShare(share)
    this.update()
  }

  /** Applies a browser signal; emits 'controls:change' only when the state changes. */
  signal (s: ControlSignal): void {
    switch (s.type) {
      case 'visibility': this.hidden = s.hidden; break
      case 'battery': this.onBattery = !s.charging; break
      // 'serious' is the normal state of a busy machine (which contributing
      // makes it); pausing on it would make every contributor flap
      case 'pressure': this.critical = s.state === 'critical'; break
      default: return
    }
    this.update()
  }

  /**
   * How long to rest after a job that computed for `ms`, so that
   * compute / (compute + rest) = cpuShare. 0 at a full share.
   */
  restAfter (ms: number): number {
    if (!Number.isFinite(ms) || ms <= 0 || this.cpuShare >= 1) return 0
    return ms * (1 - this.cpuShare) / this.cpuShare
  }

  /**
   * WASM threads to use for this share on a machine with `hardwareConcurrency`
   * cores: the share of the cores, rounded up (the duty cycle does the fine
   * limiting), at least 1. Always 1 when not cross-origin isolated, because
   * onnxruntime-web then has no SharedArrayBuffer and runs one thread anyway.
   */
  threadsFor (hardwareConcurrency: number, crossOriginIsolated: boolean): number {
    if (!crossOriginIsolated || !Number.isFinite(hardwareConcurrency) || hardwareConcurrency < 1) return 1
    // the epsilon keeps float products such as 0.1 * 30 = 3.0000000000000004 from rounding up a whole thread
    return Math.max(1, Math.min(Math.floor(hardwareConcurrency), Math.ceil(hardwareConcurrency * this.cpuShare - 1e-9)))
  }

  private compute (): ControlState {
    const holds: Record<PauseReason, boolean> = {
      user: this.userPaused,
      hidden: this.options.pauseWhenHidden && this.hidden,
      battery: this.options.pauseOnBattery && this.onBattery,
      pressure: this.options.pauseOnPressure && this.critical
    }
    const reasons = PAUSE_REASONS.filter(r => holds[r])
    return { paused: reasons.length > 0, reasons, cpuShare: this.cpuShare }
  }

  private update (): void {
    const next = this.compute()
    const prev = this.last
    if (next.cpuShare === prev.cpuShare && next.reasons.join() === prev.reasons.join()) return
    this.last = next
    this.emit('controls:change', this.state)
  }
}
