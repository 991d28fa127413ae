import { CommandManagerError, ErrorCodes } from '../src/errors';
import { InMemoryOrderStore, InMemoryRequestStore } from '../src/memory';
import type { RequestRecord } from '../src/model';
import { listRequests, type RequestListResult } from '../src/request-history';
import { makeTestOrder } from '@command-manager/store-contract';

function record(requestId: number): RequestRecord {
  return {
    request_id: requestId,
    created_at: new Date(Date.UTC(2025, 5, 1, 0, 0, requestId)).toISOString(),
    principal: 'tester',
    command: {
      source: 'Users/Services',
      user: 'wazuh',
      target: { type: 'agent', id: `agent-${requestId}` },
      action: { name: 'restart', args: {} },
      timeout: 100,
    },
    total_orders: 1,
    unresolved: [],
    write_state: 'complete',
    rollout_stopped_at: null,
  };
}

async function world(n: number, failing: number[] = []) {
  const orders = new InMemoryOrderStore();
  const requests = new InMemoryRequestStore({ orders });
  for (let id = 1; id <= n; id++) {
    await requests.createRequest(record(id));
    await orders.saveOrders([makeTestOrder(id, 1, { status: failing.includes(id) ? 'failure' : 'pending' })]);
  }
  return { requests, orders };
}

async function all(
  deps: Awaited<ReturnType<typeof world>> & { maxBytes?: number },
  query: Omit<Parameters<typeof listRequests>[1], 'cursor'>,
): Promise<{ ids: number[]; pages: RequestListResult[] }> {
  const pages: RequestListResult[] = [];
  let cursor: string | undefined;
  do {
    const page = await listRequests(deps, cursor ? { ...query, cursor } : query);
    pages.push(page);
    cursor = page.cursor;
  } while (cursor !== undefined && pages.length < 100);
  return { ids: pages.flatMap((p) => p.requests.map((r) => r.request.request_id)), pages };
}

describe('listRequests (request-history.ts)', () => {
  it('a page stops at its byte budget (never below one item) and the cursor goes on', async () => {
    const deps = { ...(await world(5)), maxBytes: 1 };
    const { ids, pages } = await all(deps, { size: 10 });
    expect(ids).toEqual([5, 4, 3, 2, 1]);
    expect(pages.slice(0, 5).every((p) => p.requests.length === 1)).toBe(true);
  });

  it('with a status filter, a page scans a bounded number of records and may come back short, with a cursor', async () => {
    const deps = await world(30, [1]);
    const first = await listRequests(deps, { size: 1, status: ['failure'] });
    expect(first.requests).toEqual([]);
    expect(first.cursor).toBeDefined();
    const { ids } = await all(deps, { size: 1, status: ['failure'] });
    expect(ids).toEqual([1]);
  });

  it('items carry their counts and done', async () => {
    const page = await listRequests(await world(2, [2]), { size: 5 });
    expect(
      page.requests.map((r) => [r.request.request_id, r.counts.failure, r.counts.pending, r.done]),
    ).toEqual([
      [2, 1, 0, true],
      [1, 0, 1, false],
    ]);
    expect(page.cursor).toBeUndefined();
  });

  it('a garbled cursor or a bad size is VALIDATION_FAILED', async () => {
    const deps = await world(1);
    for (const cursor of [
      '!!',
      Buffer.from('[1]').toString('base64url'),
      Buffer.from('{}').toString('base64url'),
    ]) {
      const e = await listRequests(deps, { size: 1, cursor }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CommandManagerError);
      expect((e as CommandManagerError).code).toBe(ErrorCodes.VALIDATION_FAILED);
      expect((e as CommandManagerError).details[0]?.pointer).toBe('/cursor');
    }
    await expect(listRequests(deps, { size: 0 })).rejects.toMatchObject({
      code: ErrorCodes.VALIDATION_FAILED,
    });
    await expect(listRequests(deps, { size: 1001 })).rejects.toMatchObject({
      code: ErrorCodes.VALIDATION_FAILED,
    });
  });
});
