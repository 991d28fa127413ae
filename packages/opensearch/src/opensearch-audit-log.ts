/**
 * The audit trail in `<orders>-audit` (default `wazuh-commands-audit`, under the `wazuh-commands*` pattern of
 * the sidecar's role). Created with its mapping by the sidecar itself (no template: the least-privilege user
 * may create indices of its pattern, not install templates).
 *
 * Writes are batched: `record` only queues (never waits for OpenSearch); one bulk per `flushIntervalMs` writes
 * at most `maxBatch` records. A call that succeeded and fills a batch sends it at once (one bulk in flight at
 * a time, so bulks go back to back while the API is busy): every accepted call is recorded whatever the rate,
 * each costing a share of a bulk beside the writes the call itself made. Refused calls alone never start a
 * bulk: a flood of them costs at most one bulk a period. The queue holds at most `maxQueued` entries and
 * `maxQueuedBytes` of them as JSON (so a large count cannot outgrow the heap): beyond, entries are counted and the count is written as one record (`dropped`), so a flood of refused calls costs
 * a counter, not a write each. Each record is chained to the previous one of this sidecar (core's
 * `chainAuditEntry`) and written with `create` under the id `<sidecar>:<seq>`, so a sequence number is never
 * written twice.
 */
import type { API, Client } from '@opensearch-project/opensearch';
import {
  chainAuditEntry,
  decodePageCursor,
  encodePageCursor,
  noopLogger,
  type AuditEntry,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
  type AuditRecord,
  type Logger,
} from '@command-manager/core';
import { createIndexIfMissing } from './internal/create-index';
import { responseErrorInfo, toStoreError, WHOLE_ANSWER } from './internal/store-errors';

export interface AuditLogOptions {
  /** Time between two bulk writes of queued records. */
  flushIntervalMs: number;
  /** Records written by one bulk. */
  maxBatch: number;
  /** Entries waiting to be written; beyond, they are only counted. */
  maxQueued: number;
  /** Bytes of the entries waiting to be written, as JSON; beyond, they are only counted. */
  maxQueuedBytes: number;
  /** Records older than this are deleted by `removeExpired`. */
  retentionMs: number;
}

export const AUDIT_LOG_DEFAULTS: Readonly<AuditLogOptions> = Object.freeze({
  flushIntervalMs: 1000,
  maxBatch: 500,
  maxQueued: 10_000,
  maxQueuedBytes: 4 * 1024 * 1024,
  retentionMs: 90 * 24 * 3600 * 1000,
});

export interface OpenSearchAuditLogOptions extends Partial<AuditLogOptions> {
  client: Client;
  /** The audit index (`IndexLayout.audit`). */
  index: string;
  /** This sidecar's id: its chain's name. */
  sidecar: string;
  logger?: Logger;
  /** Largest serialized size of one page of `page` (a page stops before it). */
  maxPageBytes?: number;
}

const MAPPINGS = {
  dynamic: 'strict',
  properties: {
    '@timestamp': { type: 'date' },
    principal: { type: 'keyword' },
    auth_method: { type: 'keyword' },
    client_ip: { type: 'keyword' },
    operation: { type: 'keyword' },
    route: { type: 'keyword' },
    status: { type: 'integer' },
    outcome: { type: 'keyword' },
    code: { type: 'keyword' },
    request_ids: { type: 'long' },
    dropped: { type: 'long' },
    sidecar: { type: 'keyword' },
    seq: { type: 'long' },
    prev_hash: { type: 'keyword', index: false },
    hash: { type: 'keyword', index: false },
  },
} as const;

/** Records deleted per retention page, and pages per run. */
const RETENTION_PAGE = 1000;
const MAX_RETENTION_PAGES = 100;

/** A cursor is the sort values of the last record of a page: `[@timestamp millis, sidecar, seq]`. */
function decodeAuditCursor(cursor: string): [number, string, number] {
  return decodePageCursor(cursor, ['integer', 'string', 'integer'], '/query/cursor') as [
    number,
    string,
    number,
  ];
}

export class OpenSearchAuditLog implements AuditLog {
  private readonly client: Client;
  private readonly index: string;
  private readonly sidecar: string;
  private readonly options: AuditLogOptions;
  private readonly logger: Logger;
  private readonly maxPageBytes: number;
  private queue: AuditEntry[] = [];
  /** JSON bytes of each queued entry, in step with `queue`, and their sum. */
  private queueSizes: number[] = [];
  private queuedBytes = 0;
  private dropped = 0;
  private last: { seq: number; hash: string } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(options: OpenSearchAuditLogOptions) {
    this.client = options.client;
    this.index = options.index;
    this.sidecar = options.sidecar;
    this.options = {
      flushIntervalMs: options.flushIntervalMs ?? AUDIT_LOG_DEFAULTS.flushIntervalMs,
      maxBatch: options.maxBatch ?? AUDIT_LOG_DEFAULTS.maxBatch,
      maxQueued: options.maxQueued ?? AUDIT_LOG_DEFAULTS.maxQueued,
      maxQueuedBytes: options.maxQueuedBytes ?? AUDIT_LOG_DEFAULTS.maxQueuedBytes,
      retentionMs: options.retentionMs ?? AUDIT_LOG_DEFAULTS.retentionMs,
    };
    this.logger = options.logger ?? noopLogger;
    this.maxPageBytes = options.maxPageBytes ?? 1024 * 1024;
  }

  /** Creates the index when missing and finds where this sidecar's chain ends; then starts writing. */
  async init(): Promise<void> {
    const created = await createIndexIfMissing(this.client, this.index, {
      body: { settings: { number_of_shards: 1, auto_expand_replicas: '0-1' }, mappings: MAPPINGS },
    });
    if (created === 'created') this.logger.info('index created', { index: this.index });
    try {
      const res = await this.client.search({
        index: this.index,
        body: {
          size: 1,
          query: { term: { sidecar: this.sidecar } },
          sort: [{ seq: 'desc' }],
        },
      });
      const hit = (res.body.hits.hits as Array<{ _source: AuditRecord }>)[0];
      if (hit) this.last = { seq: hit._source.seq, hash: hit._source.hash };
    } catch (e) {
      throw toStoreError(e, 'read the end of the audit chain');
    }
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  record(entry: AuditEntry): void {
    const bytes = Buffer.byteLength(JSON.stringify(entry));
    if (
      this.queue.length >= this.options.maxQueued ||
      this.queuedBytes + bytes > this.options.maxQueuedBytes
    ) {
      this.dropped++;
    } else {
      this.queue.push(entry);
      this.queueSizes.push(bytes);
      this.queuedBytes += bytes;
    }
    if (entry.outcome === 'ok' && this.timer !== undefined && this.queue.length >= this.options.maxBatch)
      void this.flush();
  }

  /**
   * Writes one batch of queued entries (and the count of dropped ones); a running flush is joined. It never
   * throws: a failed write puts its entries back and logs.
   */
  flush(): Promise<void> {
    this.flushing ??= this.writeBatch().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /**
   * Stops the timer and writes what is queued (a few batches at most), waiting at most `boundMs`: a stop
   * never hangs on an unreachable store (what is left unwritten is logged as a count).
   */
  async close(boundMs = 3000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, boundMs);
    });
    const drain = (async () => {
      for (let i = 0; i < 10 && (this.queue.length > 0 || this.dropped > 0); i++) await this.flush();
    })();
    await Promise.race([drain, bound]);
    clearTimeout(timer);
    const left = this.queue.length + this.dropped;
    if (left > 0) this.logger.warn('audit records left unwritten at stop', { records: left });
  }

  private async writeBatch(): Promise<void> {
    const entries = this.queue.splice(0, this.options.maxBatch);
    const sizes = this.queueSizes.splice(0, entries.length);
    for (const b of sizes) this.queuedBytes -= b;
    const dropped = this.dropped;
    this.dropped = 0;
    if (dropped > 0) {
      entries.push({
        '@timestamp': new Date().toISOString(),
        client_ip: '-',
        operation: 'none',
        route: '-',
        status: 0,
        outcome: 'refused',
        code: 'AUDIT_QUEUE_FULL',
        dropped,
      });
    }
    if (entries.length === 0) return;
    const records: AuditRecord[] = [];
    let previous = this.last;
    for (const entry of entries) {
      const record = chainAuditEntry(entry, this.sidecar, previous);
      records.push(record);
      previous = record;
    }
    try {
      // Serialised here as NDJSON text, which the client sends as is, and the answer trimmed to the errors:
      // one bulk per period carries up to `maxBatch` records, and the client's own serialisation and the
      // parsing of a full answer were most of the audit's cost at high call rates.
      let body = '';
      for (const r of records) {
        body += `${JSON.stringify({ create: { _index: this.index, _id: `${r.sidecar}:${r.seq}` } })}\n${JSON.stringify(r)}\n`;
      }
      const res = await this.client.bulk({
        body: body as unknown as API.Bulk_RequestBody,
        filter_path: 'errors,items.*.error.type',
      });
      // Written or not, these sequence numbers are spent: a failed item shows as a missing record when the
      // chain is verified (the truth: it was lost), never as a rewritten one.
      this.last = previous;
      if (res.body.errors) {
        const failed = (res.body.items as Array<{ create?: { error?: { type?: string } } }>).filter(
          (i) => i.create?.error,
        );
        this.logger.error('audit records could not be written', {
          failed: failed.length,
          type: failed[0]?.create?.error?.type,
        });
      }
    } catch (e) {
      // Nothing was written: the entries go back to the front of the queue, chained again next time.
      const back = entries.filter((e) => e.dropped === undefined);
      this.queue.unshift(...back);
      this.queueSizes.unshift(...sizes.slice(0, back.length));
      for (const b of sizes.slice(0, back.length)) this.queuedBytes += b;
      this.dropped += dropped;
      this.logger.warn('audit write failed; retried at the next flush', {
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  async page(query: AuditQuery): Promise<AuditPage> {
    const filter: unknown[] = [];
    if (query.from !== undefined || query.to !== undefined) {
      filter.push({
        range: {
          '@timestamp': {
            ...(query.from !== undefined && { gte: query.from }),
            ...(query.to !== undefined && { lt: query.to }),
          },
        },
      });
    }
    if (query.principal !== undefined) filter.push({ term: { principal: query.principal } });
    if (query.outcome !== undefined) filter.push({ term: { outcome: query.outcome } });
    if (query.sidecar !== undefined) filter.push({ term: { sidecar: query.sidecar } });
    const after = query.cursor === undefined ? undefined : decodeAuditCursor(query.cursor);
    let res;
    try {
      res = await this.client.search({
        index: this.index,
        ...WHOLE_ANSWER,
        body: {
          size: query.size + 1,
          query: { bool: { filter } },
          sort: [{ '@timestamp': 'asc' }, { sidecar: 'asc' }, { seq: 'asc' }],
          ...(after && { search_after: after }),
        } as Record<string, unknown>,
      });
    } catch (e) {
      if (responseErrorInfo(e)?.type === 'index_not_found_exception') return { records: [] };
      throw toStoreError(e, 'read the audit trail');
    }
    const hits = res.body.hits.hits as Array<{ _source: AuditRecord; sort: [number, string, number] }>;
    const records: AuditRecord[] = [];
    let bytes = 0;
    let lastSort: [number, string, number] | undefined;
    for (const hit of hits.slice(0, query.size)) {
      bytes += Buffer.byteLength(JSON.stringify(hit._source));
      if (bytes > this.maxPageBytes && records.length > 0) break;
      records.push(hit._source);
      lastSort = hit.sort;
    }
    const more = hits.length > records.length;
    return {
      records,
      ...(more && lastSort && { cursor: encodePageCursor(lastSort) }),
    };
  }

  /** Deletes records older than the retention (every sidecar's: the oldest first, so chains lose a prefix). */
  async removeExpired(now: Date = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.options.retentionMs).toISOString();
    let removed = 0;
    for (let page = 0; page < MAX_RETENTION_PAGES; page++) {
      let ids: string[];
      try {
        const res = await this.client.search({
          index: this.index,
          ...WHOLE_ANSWER,
          body: {
            size: RETENTION_PAGE,
            _source: false,
            query: { range: { '@timestamp': { lt: cutoff } } },
            sort: [{ '@timestamp': 'asc' }, { sidecar: 'asc' }, { seq: 'asc' }],
          },
        });
        ids = (res.body.hits.hits as Array<{ _id: string }>).map((h) => h._id);
      } catch (e) {
        if (responseErrorInfo(e)?.type === 'index_not_found_exception') return removed;
        throw toStoreError(e, 'find expired audit records');
      }
      if (ids.length === 0) break;
      try {
        await this.client.bulk({
          refresh: true,
          body: ids.map((id) => ({ delete: { _index: this.index, _id: id } })),
        });
      } catch (e) {
        throw toStoreError(e, 'delete expired audit records');
      }
      removed += ids.length;
      if (ids.length < RETENTION_PAGE) break;
    }
    if (removed > 0) this.logger.info('expired audit records removed', { removed });
    return removed;
  }
}
