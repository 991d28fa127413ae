/**
 * Aggregations over the orders of requests: per-status counts of many requests in one search, and a
 * request's failures by `command.result.code` (terms + top_hits: core OpenSearch, no scripting).
 */
import type { FailureBreakdown, StatusCounts } from '@command-manager/core';
import { ORDER_STATUSES, emptyCounts } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import { guarded } from './store-errors';

interface TermsBucket<K> {
  key: K;
  doc_count: number;
}

/** Per-status counts of each request's orders (one search); requests without orders are absent. */
export async function countByRequests(
  client: Client,
  index: string,
  requestIds: readonly number[],
): Promise<Map<number, StatusCounts>> {
  const result = new Map<number, StatusCounts>();
  if (requestIds.length === 0) return result;
  const ids = [...new Set(requestIds)];
  const body: Record<string, unknown> = {
    size: 0,
    track_total_hits: false,
    query: { bool: { filter: [{ terms: { 'command.request_id': ids } }] } },
    aggs: {
      requests: {
        terms: { field: 'command.request_id', size: ids.length },
        aggs: { statuses: { terms: { field: 'command.status', size: ORDER_STATUSES.length + 4 } } },
      },
    },
  };
  const response = await guarded('count orders by request', () =>
    client.search({ index, ignore_unavailable: true, body }),
  );
  const buckets = (
    response.body as {
      aggregations?: {
        requests?: {
          buckets?: Array<TermsBucket<number> & { statuses?: { buckets?: TermsBucket<string>[] } }>;
        };
      };
    }
  ).aggregations?.requests?.buckets;
  for (const bucket of buckets ?? []) {
    const counts = emptyCounts();
    for (const s of bucket.statuses?.buckets ?? []) {
      if ((ORDER_STATUSES as readonly string[]).includes(s.key))
        counts[s.key as keyof StatusCounts] = s.doc_count;
    }
    result.set(Number(bucket.key), counts);
  }
  return result;
}

/** A request's `failure` orders by result code: the `limit` largest groups, each with a sample message. */
export async function failureBreakdown(
  client: Client,
  index: string,
  requestId: number,
  limit: number,
): Promise<FailureBreakdown> {
  const size = Math.max(1, Math.floor(limit));
  const query: Record<string, unknown> = {
    size: 0,
    track_total_hits: true,
    query: {
      bool: {
        filter: [{ term: { 'command.request_id': requestId } }, { term: { 'command.status': 'failure' } }],
      },
    },
    aggs: {
      codes: {
        // Most orders first, then the lower code: the in-memory twin orders them the same way.
        terms: { field: 'command.result.code', size, order: [{ _count: 'desc' }, { _key: 'asc' }] },
        aggs: {
          sample: {
            top_hits: {
              size: 1,
              sort: [{ 'command.order_id': 'asc' }],
              _source: { includes: ['command.result.message'] },
            },
          },
        },
      },
    },
  };
  const response = await guarded('break failures down by result code', () =>
    client.search({ index, ignore_unavailable: true, body: query }),
  );
  const body = response.body as {
    hits: { total: { value: number } | number };
    aggregations?: {
      codes?: {
        buckets?: Array<
          TermsBucket<number> & {
            sample?: {
              hits?: { hits?: Array<{ _source?: { command?: { result?: { message?: string } } } }> };
            };
          }
        >;
      };
    };
  };
  const total = typeof body.hits.total === 'number' ? body.hits.total : body.hits.total.value;
  const codes = (body.aggregations?.codes?.buckets ?? []).slice(0, limit).map((b) => ({
    code: Number(b.key),
    count: b.doc_count,
    message: b.sample?.hits?.hits?.[0]?._source?.command?.result?.message ?? '',
  }));
  return { codes, other: total - codes.reduce((n, c) => n + c.count, 0) };
}
