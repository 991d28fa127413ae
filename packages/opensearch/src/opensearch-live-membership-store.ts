/**
 * Live membership in OpenSearch (core's `LiveMembershipStore`). Live requests are request records found by
 * search (`request.command.membership` = `live`, `request.live_until` after now). Besides them the requests
 * index holds, per live request:
 *   `live-counter-<request_id>`          kind `live_counter`: the next free order id for joiners, advanced
 *                                         with a conditional write (`if_seq_no`/`if_primary_term`), or
 *                                         created at `total_orders + 1` create-only;
 *   `live-member-<request_id>-<sha256>`  kind `live_member`: a joiner's marker (agent id, order id), written
 *                                         create-only (the hash of the agent id keeps the id short whatever
 *                                         the agent id's length).
 * Markers and counters are read by id (real time). Which agents have orders is a search of the orders index,
 * made exact by `refreshOrders` first.
 */
import { createHash } from 'node:crypto';
import type { JoinerMarker, LiveMembershipStore, RequestRecord } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import type { IndexLayout } from './index-layout';
import type { OpenSearchSetupOptions } from './opensearch-setup';
import { OpenSearchSetup } from './opensearch-setup';
import { bulkOp, itemReason, sendBulk } from './internal/bulk';
import { NO_TRANSPORT_RETRY } from './internal/no-transport-retry';
import { guarded, responseErrorInfo, toStoreError, WHOLE_ANSWER } from './internal/store-errors';
import { CommandManagerError, ErrorCodes } from '@command-manager/core';

export type OpenSearchLiveMembershipStoreOptions = OpenSearchSetupOptions;

/** Most ids asked in one `agentsWithOrders`, `readMarkers` or `createMarkers` call (the poller's page). */
export const MAX_LIVE_BATCH = 10_000;

interface CounterDoc {
  found?: boolean;
  _seq_no?: number;
  _primary_term?: number;
  _source?: { live_counter?: { next_order_id?: number } };
}

export class OpenSearchLiveMembershipStore implements LiveMembershipStore {
  readonly layout: IndexLayout;
  private readonly client: Client;
  private readonly setup: OpenSearchSetup;

  constructor(options: OpenSearchLiveMembershipStoreOptions) {
    this.client = options.client;
    this.setup = new OpenSearchSetup(options);
    this.layout = this.setup.layout;
  }

  async init(): Promise<void> {
    await this.setup.initRequests();
  }

  async findLiveRequests(now: Date, limit: number): Promise<RequestRecord[]> {
    const response = await guarded('find live requests', () =>
      this.client.search({
        index: this.layout.requests,
        ...WHOLE_ANSWER,
        body: {
          size: Math.max(0, Math.min(limit, 1000)),
          query: {
            bool: {
              filter: [
                { term: { kind: 'request' } },
                { term: { 'request.command.membership': 'live' } },
                { range: { 'request.live_until': { gt: now.toISOString() } } },
              ],
              must_not: [{ term: { 'request.write_state': 'writing' } }],
            },
          },
          sort: [{ 'request.created_at': 'asc' }, { 'request.request_id': 'asc' }],
        },
      }),
    );
    const hits = (response.body.hits?.hits ?? []) as Array<{ _source?: { request?: RequestRecord } }>;
    return hits.map((h) => h._source?.request).filter((r): r is RequestRecord => r !== undefined);
  }

  /** Makes every order written so far visible to `agentsWithOrders` (one refresh of the orders index). */
  async refreshOrders(): Promise<void> {
    await guarded('refresh orders', () => this.client.indices.refresh({ index: this.layout.orders }));
  }

  async agentsWithOrders(requestId: number, agentIds: readonly string[]): Promise<Set<string>> {
    bounded(agentIds.length);
    if (agentIds.length === 0) return new Set();
    const response = await guarded('find orders of agents', () =>
      this.client.search({
        index: this.layout.orders,
        ...WHOLE_ANSWER,
        body: {
          size: agentIds.length,
          _source: ['command.target.id'],
          query: {
            bool: {
              filter: [
                { term: { 'command.request_id': requestId } },
                { term: { 'command.target.type': 'agent' } },
                { terms: { 'command.target.id': [...agentIds] } },
              ],
            },
          },
        },
      }),
    );
    const hits = (response.body.hits?.hits ?? []) as Array<{
      _source?: { command?: { target?: { id?: string } } };
    }>;
    const found = new Set<string>();
    for (const h of hits) {
      const id = h._source?.command?.target?.id;
      if (id !== undefined) found.add(id);
    }
    return found;
  }

  async readMarkers(requestId: number, agentIds: readonly string[]): Promise<Map<string, number>> {
    bounded(agentIds.length);
    const out = new Map<string, number>();
    if (agentIds.length === 0) return out;
    const response = await guarded('read joiner markers', () =>
      this.client.mget({
        index: this.layout.requests,
        body: { ids: agentIds.map((a) => markerDocId(requestId, a)) },
      }),
    );
    const docs = (response.body.docs ?? []) as Array<{
      found?: boolean;
      _source?: { live_member?: { agent_id?: string; order_id?: number } };
    }>;
    for (const doc of docs) {
      const m = doc._source?.live_member;
      if (doc.found && m?.agent_id !== undefined && m.order_id !== undefined) out.set(m.agent_id, m.order_id);
    }
    return out;
  }

  async reserveOrderIds(record: RequestRecord, count: number): Promise<number | undefined> {
    const id = `live-counter-${record.request_id}`;
    const response = await guarded('read joiner counter', () =>
      this.client.get({ index: this.layout.requests, id }, { ignore: [404] }),
    );
    const doc = response.body as CounterDoc;
    const next = doc.found ? doc._source?.live_counter?.next_order_id : undefined;
    const first = next ?? record.total_orders + 1;
    const body = {
      kind: 'live_counter',
      live_counter: { request_id: record.request_id, next_order_id: first + count },
    };
    try {
      if (!doc.found) {
        await this.client.create({ index: this.layout.requests, id, body }, NO_TRANSPORT_RETRY);
      } else {
        await this.client.index(
          {
            index: this.layout.requests,
            id,
            body,
            if_seq_no: doc._seq_no ?? -1,
            if_primary_term: doc._primary_term ?? 0,
          },
          NO_TRANSPORT_RETRY,
        );
      }
      return first;
    } catch (e) {
      // 409: another poller advanced (or created) the counter between our read and our write.
      if (responseErrorInfo(e)?.status === 409) return undefined;
      throw toStoreError(e, 'reserve joiner order ids');
    }
  }

  async createMarkers(requestId: number, markers: readonly JoinerMarker[]): Promise<Set<string>> {
    bounded(markers.length);
    const created = new Set<string>();
    if (markers.length === 0) return created;
    const ops = markers.map((m) =>
      bulkOp(
        { create: { _index: this.layout.requests, _id: markerDocId(requestId, m.agentId) } },
        {
          kind: 'live_member',
          live_member: { request_id: requestId, agent_id: m.agentId, order_id: m.orderId },
        },
      ),
    );
    const items = await sendBulk(this.client, {
      ops,
      refresh: false,
      operation: 'create joiner markers',
      statusOnly: true,
    });
    items.forEach((item, i) => {
      const marker = markers[i];
      if (!marker) return;
      if (item.status === 201) created.add(marker.agentId);
      else if (item.status !== 409) {
        throw new CommandManagerError(
          ErrorCodes.STORE_UNAVAILABLE,
          `joiner marker not written: ${itemReason(item)}`,
        );
      }
    });
    return created;
  }
}

function markerDocId(requestId: number, agentId: string): string {
  return `live-member-${requestId}-${createHash('sha256').update(agentId, 'utf8').digest('hex')}`;
}

function bounded(n: number): void {
  if (n > MAX_LIVE_BATCH) {
    throw new CommandManagerError(
      ErrorCodes.INTERNAL,
      `at most ${MAX_LIVE_BATCH} agents per live-membership call (got ${n})`,
    );
  }
}
