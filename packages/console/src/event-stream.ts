/**
 * Live progress of one request: the server-sent events of `GET …/requests/:id/events`, read with `fetch`
 * (EventSource cannot send an Authorization header), or, where that route answers 404, `GET …/requests/:id`
 * every `pollIntervalMs`. No DOM: the unit tests run it under Node.
 */

/** One event of a `text/event-stream`. */
export interface ServerSentEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * Incremental parser of the `text/event-stream` format: feed it decoded text as it arrives, get back the
 * events completed so far. Lines end with LF, CRLF or CR; `data` lines join with LF; comments (`:`) and
 * unknown fields are ignored; an event without data is not dispatched.
 */
export class EventStreamParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;

  push(text: string): ServerSentEvent[] {
    this.buffer += text;
    const out: ServerSentEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      // A CR at the very end may be the first half of a CRLF: wait for more.
      if (!m || (m[0] === '\r' && m.index === this.buffer.length - 1)) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      if (line === '') {
        if (this.data.length > 0) {
          out.push({
            ...(this.id !== undefined && { id: this.id }),
            event: this.event || 'message',
            data: this.data.join('\n'),
          });
        }
        this.data = [];
        this.event = '';
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id' && !value.includes('\0')) this.id = value;
    }
    return out;
  }

  /** The last event id seen (sent back as `Last-Event-ID` when reconnecting). */
  get lastEventId(): string | undefined {
    return this.id;
  }
}

/** The subset of `fetch` used here (the browser's, or Node's in tests). */
export type FetchLike = (
  url: string,
  init: { headers: Record<string, string>; signal: AbortSignal },
) => Promise<{
  status: number;
  ok: boolean;
  body: ReadableStream<Uint8Array> | null;
  json(): Promise<unknown>;
}>;

export interface FollowOptions<T> {
  fetch: FetchLike;
  /** e.g. `/_plugins/_command_manager/requests/42` (events at `<url>/events`). */
  requestUrl: string;
  headers: Record<string, string>;
  /** Each progress body (`GET …/requests/:id`). */
  onProgress: (progress: T) => void;
  /** Tells when following ends by itself (the request is done). */
  isFinal: (progress: T) => boolean;
  /** Which transport is in use, for the page to show. */
  onMode?: (mode: 'events' | 'polling') => void;
  onError?: (message: string) => void;
  signal: AbortSignal;
  pollIntervalMs?: number;
  /** Reconnection delay after a dropped stream; default 2,000. */
  retryMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Follows a request until it is final or `signal` aborts. Events first; a 404 on the events route switches
 * to polling for good. A dropped stream is reopened after `retryMs` with `Last-Event-ID`. Resolves when done.
 */
export async function followRequest<T>(options: FollowOptions<T>): Promise<void> {
  const { signal } = options;
  const pollMs = options.pollIntervalMs ?? 2000;
  const retryMs = options.retryMs ?? 2000;
  let lastId: string | undefined;
  while (!signal.aborted) {
    let response: Awaited<ReturnType<FetchLike>>;
    try {
      response = await options.fetch(`${options.requestUrl}/events`, {
        headers: {
          ...options.headers,
          accept: 'text/event-stream',
          ...(lastId !== undefined && { 'last-event-id': lastId }),
        },
        signal,
      });
    } catch (e) {
      if (signal.aborted) return;
      options.onError?.(e instanceof Error ? e.message : String(e));
      await sleep(retryMs, signal);
      continue;
    }
    if (response.status === 404 || response.status === 405) {
      options.onMode?.('polling');
      return poll(options, pollMs);
    }
    if (!response.ok || !response.body) {
      options.onError?.(`the events stream answered HTTP ${response.status}`);
      await sleep(retryMs, signal);
      continue;
    }
    options.onMode?.('events');
    const parser = new EventStreamParser();
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let ended = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(decoder.decode(value, { stream: true }))) {
          // `end` carries the final body (the only event of a request already done when the stream opens).
          if (ended) break;
          if (event.event !== 'progress' && event.event !== 'end') continue;
          const progress = JSON.parse(event.data) as T;
          options.onProgress(progress);
          if (event.event === 'end' || options.isFinal(progress)) ended = true;
        }
        if (ended) break;
      }
    } catch (e) {
      if (signal.aborted) return;
      options.onError?.(e instanceof Error ? e.message : String(e));
    } finally {
      lastId = parser.lastEventId ?? lastId;
      void reader.cancel().catch(() => undefined);
    }
    if (ended) return;
    await sleep(retryMs, signal);
  }
}

async function poll<T>(options: FollowOptions<T>, pollMs: number): Promise<void> {
  const { signal } = options;
  while (!signal.aborted) {
    try {
      const response = await options.fetch(options.requestUrl, {
        headers: { ...options.headers, accept: 'application/json' },
        signal,
      });
      if (response.ok) {
        const progress = (await response.json()) as T;
        options.onProgress(progress);
        if (options.isFinal(progress)) return;
      } else {
        options.onError?.(`HTTP ${response.status}`);
      }
    } catch (e) {
      if (signal.aborted) return;
      options.onError?.(e instanceof Error ? e.message : String(e));
    }
    await sleep(pollMs, signal);
  }
}
