import * as http from 'node:http';
import * as https from 'node:https';
import { requestJson } from '@command-manager-examples/support';
import type { ResultReport } from './result-report';

/** The command manager the Comms API reports to. */
export interface CommandManagerTarget {
  /** Base URL of the command manager (sidecar), e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** API token of a principal with role `comms` (sent as `Authorization: Bearer`). */
  token?: string;
  /** Or Basic credentials of such a principal. */
  username?: string;
  password?: string;
  /** PEM CA for an https URL (always verified). */
  ca?: string | Buffer;
}

export interface ForwarderStats {
  /** Reports the command manager answered with 2xx. */
  forwarded: number;
  /** Of those, reports it applied (the order moved to success/failure). */
  applied: number;
  /** Of those, reports it did not apply: late or duplicate (`conflict`), `unknown`, `invalid`. */
  notApplied: number;
  /** Reports given up on: the command manager refused the call (4xx other than 408/429). */
  dropped: number;
  /** Reports waiting to be sent. */
  pending: number;
}

const RESULTS_PATH = '/_plugins/_command_manager/results';

/**
 * Buffers agents' results and forwards them in bulk to `POST /_plugins/_command_manager/results`. A call that
 * fails in a retryable way (network, 408, 429, 5xx) is retried after a delay with the same reports; the
 * command manager answers a report it already applied as `conflict`, so a repeated call is harmless.
 */
export class ResultForwarder {
  private buffer: ResultReport[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly agent: http.Agent | undefined;
  private readonly counts = { forwarded: 0, applied: 0, notApplied: 0, dropped: 0 };

  constructor(
    private readonly target: CommandManagerTarget | undefined,
    private readonly options: {
      maxPerCall: number;
      flushDelayMs: number;
      retryDelayMs: number;
      log: (m: string) => void;
    },
  ) {
    if (target) {
      const AgentClass = new URL(target.url).protocol === 'https:' ? https.Agent : http.Agent;
      this.agent = new AgentClass({ keepAlive: true, maxSockets: 4 });
    }
  }

  stats(): ForwarderStats {
    return { ...this.counts, pending: this.buffer.length };
  }

  add(reports: readonly ResultReport[]): void {
    if (!this.target) {
      this.options.log(`no command manager configured: ${reports.length} results not forwarded`);
      return;
    }
    this.buffer.push(...reports);
    this.schedule(this.buffer.length >= this.options.maxPerCall ? 0 : this.options.flushDelayMs);
  }

  /** Sends everything buffered; resolves when the buffer is empty or a call failed (retried later). */
  flush(): Promise<void> {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** One last flush attempt, then no timers and no connections are left. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    if (this.buffer.length > 0)
      this.options.log(`${this.buffer.length} results could not be forwarded before closing`);
    this.agent?.destroy();
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
  }

  private async drain(): Promise<void> {
    const target = this.target;
    if (!target) return;
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.options.maxPerCall);
      const outcome = await this.send(target, batch);
      if (outcome === 'retry') {
        this.buffer.unshift(...batch);
        this.schedule(this.options.retryDelayMs);
        return;
      }
    }
  }

  private async send(target: CommandManagerTarget, batch: ResultReport[]): Promise<'done' | 'retry'> {
    const headers: Record<string, string> = {};
    if (target.token) headers.authorization = `Bearer ${target.token}`;
    else if (target.username !== undefined) {
      const basic = Buffer.from(`${target.username}:${target.password ?? ''}`, 'utf8').toString('base64');
      headers.authorization = `Basic ${basic}`;
    }
    try {
      const answer = await requestJson(`${target.url.replace(/\/+$/, '')}${RESULTS_PATH}`, {
        body: { results: batch },
        headers,
        ...(this.agent ? { agent: this.agent } : {}),
        ...(target.ca !== undefined ? { ca: target.ca } : {}),
      });
      if (answer.status >= 200 && answer.status < 300) {
        const applied = (answer.body as { applied?: unknown } | undefined)?.applied;
        const n = typeof applied === 'number' ? applied : batch.length;
        this.counts.forwarded += batch.length;
        this.counts.applied += n;
        this.counts.notApplied += batch.length - n;
        return 'done';
      }
      if (answer.status === 408 || answer.status === 429 || answer.status >= 500) {
        this.options.log(`command manager answered HTTP ${answer.status}; retrying ${batch.length} results`);
        return 'retry';
      }
      this.counts.dropped += batch.length;
      this.options.log(
        `command manager refused ${batch.length} results: HTTP ${answer.status} ${JSON.stringify(answer.body)}`,
      );
      return 'done';
    } catch (e) {
      this.options.log(
        `command manager unreachable (${e instanceof Error ? e.message : String(e)}); retrying`,
      );
      return 'retry';
    }
  }
}
