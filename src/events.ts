/**
 * A typed EventTarget: `'domain:verb'` → `CustomEvent<T>`. Plain DOM
 * EventTarget underneath, so it works in pages, workers and Node.
 */
export class TypedEventTarget<EventMap extends { [K in keyof EventMap]: CustomEvent<any> }> extends EventTarget {
  override addEventListener<K extends keyof EventMap & string>(type: K, listener: ((evt: EventMap[K]) => void) | null, options?: boolean | AddEventListenerOptions): void
  override addEventListener (type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void
  override addEventListener (type: string, listener: any, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener, options)
  }

  override removeEventListener<K extends keyof EventMap & string>(type: K, listener: ((evt: EventMap[K]) => void) | null, options?: boolean | EventListenerOptions): void
  override removeEventListener (type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void
  override removeEventListener (type: string, listener: any, options?: boolean | EventListenerOptions): void {
    super.removeEventListener(type, listener, options)
  }

  /** Dispatches `new CustomEvent(type, { detail })`. */
  emit<K extends keyof EventMap & string>(type: K, detail: EventMap[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }
}
