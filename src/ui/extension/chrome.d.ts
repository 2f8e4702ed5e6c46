/**
 * The few `chrome.*` extension APIs this extension uses (Chrome 116+), typed
 * here instead of pulling in all of `@types/chrome`. Lint lets only
 * src/ui/extension/** reference `chrome` (eslint.config.js).
 * Shapes follow developer.chrome.com/docs/extensions/reference/api.
 */
declare namespace chrome {
  namespace runtime {
    const id: string
    function getURL (path: string): string
    /** Resolves with the first listener's `sendResponse` value; rejects when no listener answers. */
    function sendMessage (message: unknown): Promise<unknown>

    interface MessageSender {
      id?: string
      url?: string
      origin?: string
      documentId?: string
    }
    /** Return `true` to answer later through `sendResponse`. */
    type MessageListener = (message: unknown, sender: MessageSender, sendResponse: (response: unknown) => void) => boolean | undefined
    const onMessage: { addListener: (listener: MessageListener) => void, removeListener: (listener: MessageListener) => void }
    const onStartup: { addListener: (listener: () => void) => void }
    const onInstalled: { addListener: (listener: (details: { reason: string }) => void) => void }

    type ContextType = 'TAB' | 'POPUP' | 'BACKGROUND' | 'OFFSCREEN_DOCUMENT' | 'SIDE_PANEL' | 'DEVELOPER_TOOLS'
    interface ExtensionContext { contextType: ContextType, documentUrl?: string, documentId?: string }
    function getContexts (filter: { contextTypes?: ContextType[], documentUrls?: string[] }): Promise<ExtensionContext[]>
  }

  namespace offscreen {
    type Reason = 'TESTING' | 'AUDIO_PLAYBACK' | 'IFRAME_SCRIPTING' | 'DOM_SCRAPING' | 'BLOBS' | 'DOM_PARSER' | 'USER_MEDIA' | 'DISPLAY_MEDIA' | 'WEB_RTC' | 'CLIPBOARD' | 'LOCAL_STORAGE' | 'WORKERS' | 'BATTERY_STATUS' | 'MATCH_MEDIA' | 'GEOLOCATION'
    function createDocument (parameters: { url: string, reasons: Reason[], justification: string }): Promise<void>
    function closeDocument (): Promise<void>
  }

  namespace storage {
    interface StorageArea {
      get: (keys: string | string[]) => Promise<Record<string, unknown>>
      set: (items: Record<string, unknown>) => Promise<void>
    }
    const local: StorageArea
  }

  namespace action {
    function setBadgeText (details: { text: string }): Promise<void>
    function setBadgeBackgroundColor (details: { color: string }): Promise<void>
  }
}
