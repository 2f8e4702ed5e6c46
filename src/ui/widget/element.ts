/**
 * `<crosscheck-contributor>`: the element a host site adds to let its
 * visitors contribute to Crosscheck. Built as `widget.js` at the root of the
 * Crosscheck site; the node itself runs in an iframe (`frame.html`) from that
 * same origin, so identity, models and isolation headers are Crosscheck's,
 * not the host's. Nothing runs until the visitor clicks Start inside the frame.
 *
 * @example
 * ```html
 * <script type="module" src="https://crosscheck.example/widget.js"></script>
 * <crosscheck-contributor relay="/dns4/relay.example/tcp/443/wss/p2p/12D3…" cpu-share="0.5"></crosscheck-contributor>
 * <script>
 *   document.querySelector('crosscheck-contributor')
 *     .addEventListener('crosscheck:state', (e) => console.log(e.detail.state, e.detail.jobsDone))
 * </script>
 * ```
 *
 * Attributes: `relay` (multiaddrs, comma-separated), `cpu-share` (0 < share ≤ 1,
 * default 1). Reflects `state` (a WidgetState) for styling:
 * `crosscheck-contributor[state="running"] { … }`. Methods `pause()` and
 * `stop()`; there is no `start()`.
 */
import { checkOrigin, listen, post, WIDGET_PROTOCOL_VERSION, WIDGET_SOURCE } from './protocol.js'
import type { IgnoreReason, WidgetCommand, WidgetStateDetail } from './protocol.js'

export const ELEMENT_NAME = 'crosscheck-contributor'
/** A variable, not a literal: vite rewrites `new URL('literal', import.meta.url)` into a bundled asset, and this must stay a runtime URL beside widget.js. */
const FRAME_PAGE = 'frame.html'

/** Events the element dispatches (bubbling, composed). */
export interface ContributorElementEvents {
  /** The frame reported a new coarse state. */
  'crosscheck:state': CustomEvent<WidgetStateDetail>
}

const STYLE = `
:host { display: block; width: 100%; max-width: 28rem; height: 15rem; }
:host([hidden]) { display: none; }
iframe { border: 0; width: 100%; height: 100%; color-scheme: normal; }
`

export class CrosscheckContributorElement extends HTMLElement {
  static readonly observedAttributes = ['relay', 'cpu-share', 'pause-on-pressure']

  private readonly root: ShadowRoot
  private frame?: HTMLIFrameElement
  private frameOrigin?: string
  /** The attributes the current frame was made with. */
  private mountedWith = ''
  private unlisten?: () => void
  private ready = false
  /** Commands given before the frame said it was listening. */
  private pending: WidgetCommand[] = []
  private last?: WidgetStateDetail
  private ignored = 0

  constructor () {
    super()
    this.root = this.attachShadow({ mode: 'open' })
    const style = document.createElement('style')
    style.textContent = STYLE
    this.root.append(style)
  }

  /** The last state the frame reported, or undefined before the first. */
  get contributorState (): WidgetStateDetail | undefined {
    return this.last != null ? { ...this.last } : undefined
  }

  /** `message` events refused so far (foreign origin, wrong window, malformed): for the host's diagnostics. */
  get ignoredMessages (): number {
    return this.ignored
  }

  /** Asks the frame to pause contributing (the visitor resumes in the frame). */
  pause (): void { this.command('pause') }

  /** Asks the frame to stop its node (the visitor starts again in the frame). */
  stop (): void { this.command('stop') }

  connectedCallback (): void {
    this.mount()
  }

  disconnectedCallback (): void {
    this.unmount()
  }

  attributeChangedCallback (): void {
    // a new relay or share is a new frame: the visitor's consent was for the old one.
    // (Upgrades report each initial attribute before connectedCallback: no frame yet, nothing to redo.)
    if (this.frame != null && this.attributesKey() !== this.mountedWith) {
      this.unmount()
      this.mount()
    }
  }

  private attributesKey (): string {
    return JSON.stringify([this.getAttribute('relay'), this.getAttribute('cpu-share'), this.getAttribute('pause-on-pressure')])
  }

  private mount (): void {
    if (this.frame != null) return
    // frame.html sits beside widget.js on the Crosscheck origin, whatever page loaded the script
    const url = new URL(FRAME_PAGE, import.meta.url)
    url.searchParams.set('relay', this.getAttribute('relay') ?? '')
    url.searchParams.set('host', checkOrigin(location.origin))
    const share = this.getAttribute('cpu-share')
    if (share != null) url.searchParams.set('cpu-share', share)
    if (this.getAttribute('pause-on-pressure') === 'false') url.searchParams.set('pause-on-pressure', 'false')
    const frame = document.createElement('iframe')
    frame.title = 'Crosscheck contributor'
    // compute-pressure lets the frame pause under load; cross-origin-isolated lets it be isolated under an isolated host
    frame.allow = 'compute-pressure; cross-origin-isolated'
    frame.src = url.href
    this.frameOrigin = url.origin
    this.mountedWith = this.attributesKey()
    this.ready = false
    this.root.append(frame)
    this.frame = frame
    this.setState('idle')
    // contentWindow exists once the iframe is in the document and stays the same window across its navigations
    this.unlisten = listen(window, { origin: url.origin, source: frame.contentWindow, accept: ['ready', 'state'] }, (m) => {
      if (m.type === 'ready') {
        this.ready = true
        for (const c of this.pending.splice(0)) this.send(c)
      } else if (m.type === 'state') {
        this.last = m.detail
        this.setState(m.detail.state)
        this.dispatchEvent(new CustomEvent('crosscheck:state', { detail: { ...m.detail }, bubbles: true, composed: true }))
      }
    }, (_reason: IgnoreReason) => { this.ignored++ })
  }

  private unmount (): void {
    this.unlisten?.()
    this.unlisten = undefined
    this.frame?.remove()
    this.frame = undefined
    this.ready = false
    this.pending = []
    this.last = undefined
  }

  private setState (state: string): void {
    if (this.getAttribute('state') !== state) this.setAttribute('state', state)
  }

  private command (command: WidgetCommand): void {
    if (this.frame == null) return
    if (!this.ready) { this.pending.push(command); return }
    this.send(command)
  }

  private send (command: WidgetCommand): void {
    const target = this.frame?.contentWindow
    if (target == null || this.frameOrigin == null) return
    post(target, this.frameOrigin, { source: WIDGET_SOURCE, v: WIDGET_PROTOCOL_VERSION, type: 'command', command })
  }
}

declare global {
  interface HTMLElementTagNameMap { [ELEMENT_NAME]: CrosscheckContributorElement }
  interface HTMLElementEventMap { 'crosscheck:state': CustomEvent<WidgetStateDetail> }
}

// a page may load widget.js twice (two script tags, or two versions): the first definition wins
if (customElements.get(ELEMENT_NAME) == null) customElements.define(ELEMENT_NAME, CrosscheckContributorElement)
