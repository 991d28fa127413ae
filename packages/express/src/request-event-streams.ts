/**
 * Server-sent events of a request's progress (`GET …/requests/:id/events`).
 *
 * The stream is fed from the store (the same reading as `GET …/requests/:id`), never from this process's
 * memory, so a caller may follow on any sidecar a request submitted on another. Readings are coalesced: one
 * reading of a request per `intervalMs` on this sidecar, however many streams follow it, and an event only
 * when the body changed. Each event is
 *
 *     id: <n>            increasing within a stream; a resumed stream continues after `Last-Event-ID`
 *     event: progress    (or `end`: the final body, after which the stream closes)
 *     data: <the body of GET …/requests/:id, one line of JSON>
 *
 * A stream opened (or resumed) sends the current state at once; a request already done sends its `end`
 * event only. Comment lines (`: heartbeat`) keep idle proxies from closing the connection. Streams are
 * bounded per sidecar and per caller (429 TOO_MANY_STREAMS beyond), and `closeAll` ends them on shutdown
 * (a client resumes on another sidecar with `Last-Event-ID`).
 */
import type { Response } from 'express';
import {
  CommandManagerError,
  ErrorCodes,
  isCommandManagerError,
  type Logger,
  type RequestProgress,
} from '@command-manager/core';

export interface RequestEventOptions {
  /** Shortest time between two readings of one request (so at most 1000 / intervalMs events a second). */
  intervalMs: number;
  /** Time between two heartbeat comments on an open stream. */
  heartbeatMs: number;
  /** Streams open at once on this sidecar. */
  maxStreams: number;
  /** Streams open at once for one principal on this sidecar. */
  maxStreamsPerCaller: number;
}

export const REQUEST_EVENT_DEFAULTS: Readonly<RequestEventOptions> = Object.freeze({
  intervalMs: 500,
  heartbeatMs: 15_000,
  maxStreams: 100,
  maxStreamsPerCaller: 5,
});

/** Seconds a caller refused for too many streams is asked to wait. */
const STREAMS_RETRY_AFTER_SEC = 5;

interface Subscriber {
  /** A reading of the request (`done` true: the final one). */
  deliver(body: string, done: boolean): void;
  /** The request is gone (retention) or this sidecar is stopping: end without an `end` event. */
  close(): void;
}

/** One request's readings, shared by every stream of this sidecar that follows it. */
class RequestWatcher {
  readonly subscribers = new Set<Subscriber>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly requestId: number,
    private readonly read: (requestId: number) => Promise<RequestProgress>,
    private readonly intervalMs: number,
    private readonly logger: Logger | undefined,
    private readonly onIdle: () => void,
  ) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    // The server keeps the process alive, not a stream's timers.
    this.timer = setTimeout(() => void this.tick(), this.intervalMs).unref();
  }

  private async tick(): Promise<void> {
    if (this.subscribers.size === 0) {
      this.stop();
      this.onIdle();
      return;
    }
    try {
      const progress = await this.read(this.requestId);
      const body = JSON.stringify(progress);
      for (const s of [...this.subscribers]) s.deliver(body, progress.done);
    } catch (e) {
      if (isCommandManagerError(e, ErrorCodes.NOT_FOUND)) {
        for (const s of [...this.subscribers]) s.close();
      } else {
        // The store is unreachable for a moment: the streams stay open and the next reading retries.
        this.logger?.warn('reading a request for its event streams failed', {
          requestId: this.requestId,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    this.schedule();
  }
}

export interface OpenStream {
  requestId: number;
  /** Who follows (streams are bounded per principal name). */
  caller: string;
  /** The `Last-Event-ID` the client sent (a resumed stream), if any. */
  lastEventId: number | undefined;
}

export class RequestEventStreams {
  private readonly options: RequestEventOptions;
  private readonly watchers = new Map<number, RequestWatcher>();
  private readonly perCaller = new Map<string, number>();
  private readonly open = new Set<Subscriber>();
  private reserved = 0;
  private closed = false;

  constructor(
    private readonly read: (requestId: number) => Promise<RequestProgress>,
    options: Partial<RequestEventOptions> = {},
    private readonly logger?: Logger,
  ) {
    this.options = { ...REQUEST_EVENT_DEFAULTS, ...options };
  }

  /** Streams open now (reserved ones included). */
  get size(): number {
    return this.reserved;
  }

  /**
   * Admits a stream (or throws TOO_MANY_STREAMS), reads the request (its errors are thrown before anything
   * is written, so they answer as JSON errors), then writes the event stream to `res` until the request is
   * done, the client leaves or `closeAll` is called.
   */
  async stream(res: Response, stream: OpenStream): Promise<void> {
    if (this.closed) {
      throw new CommandManagerError(ErrorCodes.STORE_UNAVAILABLE, 'this sidecar is stopping', {
        retryAfterSec: 1,
      });
    }
    const callerCount = this.perCaller.get(stream.caller) ?? 0;
    if (this.reserved >= this.options.maxStreams || callerCount >= this.options.maxStreamsPerCaller) {
      const which =
        this.reserved >= this.options.maxStreams
          ? `${this.options.maxStreams} on this sidecar`
          : `${this.options.maxStreamsPerCaller} for this caller`;
      throw new CommandManagerError(ErrorCodes.TOO_MANY_STREAMS, `too many event streams open (${which})`, {
        retryAfterSec: STREAMS_RETRY_AFTER_SEC,
      });
    }
    this.reserved++;
    this.perCaller.set(stream.caller, callerCount + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.reserved--;
      const n = (this.perCaller.get(stream.caller) ?? 1) - 1;
      if (n > 0) this.perCaller.set(stream.caller, n);
      else this.perCaller.delete(stream.caller);
    };

    let first: RequestProgress;
    try {
      first = await this.read(stream.requestId);
    } catch (e) {
      release();
      throw e;
    }
    if (this.closed || res.req.destroyed || res.destroyed) {
      release();
      res.end();
      return;
    }

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    // Reverse proxies that buffer answers (nginx) pass this one through as it is written.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();

    let nextId = (stream.lastEventId ?? 0) + 1;
    let lastBody: string | undefined;
    let ended = false;
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), this.options.heartbeatMs).unref();
    const send = (event: 'progress' | 'end', body: string): void => {
      res.write(`id: ${nextId++}\nevent: ${event}\ndata: ${body}\n\n`);
      lastBody = body;
    };
    const subscriber: Subscriber = {
      deliver: (body, done) => {
        if (ended) return;
        if (done) {
          send('end', body);
          finish();
          return;
        }
        // A client that does not keep up skips readings (the next one it gets is the latest), so a slow
        // reader holds at most one event in memory.
        if (body === lastBody || res.writableNeedDrain) return;
        send('progress', body);
      },
      close: () => finish(),
    };
    const finish = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      this.open.delete(subscriber);
      this.watchers.get(stream.requestId)?.subscribers.delete(subscriber);
      release();
      res.end();
    };
    res.on('close', finish);

    this.open.add(subscriber);
    subscriber.deliver(JSON.stringify(first), first.done);
    if (ended) return;
    this.watcherOf(stream.requestId).subscribers.add(subscriber);
  }

  /** Ends every open stream (without an `end` event: clients resume elsewhere) and refuses new ones. */
  closeAll(): void {
    this.closed = true;
    for (const s of [...this.open]) s.close();
    for (const w of this.watchers.values()) w.stop();
    this.watchers.clear();
  }

  private watcherOf(requestId: number): RequestWatcher {
    let watcher = this.watchers.get(requestId);
    if (!watcher) {
      const created = new RequestWatcher(requestId, this.read, this.options.intervalMs, this.logger, () => {
        if (this.watchers.get(requestId) === created) this.watchers.delete(requestId);
      });
      watcher = created;
      this.watchers.set(requestId, created);
      created.start();
    }
    return watcher;
  }
}
