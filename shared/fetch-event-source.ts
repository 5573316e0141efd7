/**
 * A small EventSource over `fetch`, for `httpSubscriptionLink`'s `EventSource` option: unlike the
 * browser's, it sends headers (`Authorization: Bearer …`) and can use any fetch (tests drive the
 * server in-process with `app.handle`). It implements what tRPC uses — named events, `data`, `id`
 * (sent back as `Last-Event-ID` on reconnect), `retry`, `readyState`, `close()` — per the HTML
 * spec's event-stream parsing.
 */
export interface FetchEventSourceInit {
  headers?: Record<string, string> | (() => Record<string, string>);
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Reconnect delay until the server sends `retry:`. */
  retryMs?: number;
}

type Listener = (event: MessageEvent | Event) => void;

export class FetchEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSED = 2;
  readyState = 0;
  readonly url: string;
  readonly withCredentials = false;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly abort = new AbortController();
  private lastEventId = '';
  private retryMs: number;

  constructor(
    url: string | URL,
    private readonly init: FetchEventSourceInit = {},
  ) {
    this.url = String(url);
    this.retryMs = init.retryMs ?? 1_000;
    void this.run();
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }

  close(): void {
    this.readyState = 2;
    this.abort.abort();
  }

  private dispatch(type: string, event: MessageEvent | Event): void {
    for (const l of this.listeners.get(type) ?? []) l(event);
  }

  private async run(): Promise<void> {
    const doFetch = this.init.fetch ?? ((u: string, i: RequestInit) => fetch(u, i));
    while (this.readyState !== 2) {
      try {
        const headers = typeof this.init.headers === 'function' ? this.init.headers() : (this.init.headers ?? {});
        const res = await doFetch(this.url, {
          headers: { accept: 'text/event-stream', ...headers, ...(this.lastEventId ? { 'last-event-id': this.lastEventId } : {}) },
          signal: this.abort.signal,
        });
        if (!res.ok || !res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
          // Not a stream (e.g. 401/403): fail for good, as a browser EventSource does.
          this.readyState = 2;
          this.dispatch('error', new Event('error'));
          return;
        }
        this.readyState = 1;
        this.dispatch('open', new Event('open'));
        await this.consume(res.body);
      } catch {
        // Aborted by close(), or the connection dropped: the loop decides which.
      }
      if (this.readyState === 2) return;
      this.readyState = 0;
      this.dispatch('error', new Event('error'));
      await new Promise((r) => setTimeout(r, this.retryMs));
    }
  }

  private async consume(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    let data: string[] = [];
    let type = '';
    const reader = body.getReader();
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) return;
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (data.length > 0) {
            const event = new MessageEvent(type || 'message', { data: data.join('\n'), lastEventId: this.lastEventId });
            this.dispatch(type || 'message', event);
          }
          data = [];
          type = '';
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') data.push(value);
        else if (field === 'event') type = value;
        else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
        else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
      }
    }
  }
}
