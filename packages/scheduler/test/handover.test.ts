/**
 * A partition taken over from another sidecar: its former owner's last verdicts may not be searchable yet.
 * The new owner reads such orders again by id before they go out, so that a search lagging behind another
 * sidecar's verdict does not make it deliver the order a second time.
 */
import {
  InMemoryLockStore,
  InMemoryOrderStore,
  InMemoryRequestStore,
  markSent,
  partitionOfOrder,
} from '@command-manager/core';
import type { FindDueRequest, FindDueResult, StoredOrder } from '@command-manager/core';
import { ManagementApiClient, Scheduler, allPartitions } from '@command-manager/scheduler';
import type { PartitionOwnership } from '@command-manager/scheduler';
import { orders } from './support/fixtures';
import { StubManagementApi } from './support/stub-management-api';

/** An order store whose searches answer what it held when `freeze()` was called (a refresh not yet run). */
class LaggingSearch extends InMemoryOrderStore {
  private frozen: StoredOrder[] | undefined;

  async freeze(): Promise<void> {
    this.frozen = (
      await super.findDue({ limit: 10_000, now: new Date(Date.now() + 1000), partitions: all() })
    ).orders;
  }

  override async findDue(request: FindDueRequest): Promise<FindDueResult> {
    if (!this.frozen) return super.findDue(request);
    const partitions = new Set(request.partitions);
    return {
      orders: this.frozen.filter((o) => partitions.has(partitionOfOrder(o.order))).slice(0, request.limit),
    };
  }
}

function all(): number[] {
  return allPartitions().usable();
}

/** Every partition usable, each taken over from another owner `agoMs` ago. */
function takenOver(agoMs: number): PartitionOwnership {
  return { ...allPartitions(), handedOverAgoMs: () => agoMs };
}

let stub: StubManagementApi;
let client: ManagementApiClient;
beforeEach(async () => {
  stub = await StubManagementApi.start();
  client = new ManagementApiClient({ managementApiUrl: stub.url });
});
afterEach(async () => {
  await client.close();
  await stub.close();
});

async function dispatchWith(partitions: PartitionOwnership): Promise<string[]> {
  const store = new LaggingSearch();
  const written = orders(7, 4, new Date(Date.now() - 1000));
  await store.saveOrders(written);
  await store.freeze();
  // The former owner delivered 7-1 and 7-2 and recorded them: the search does not show it yet.
  for (const id of ['7-1', '7-2']) {
    const [stored] = await store.getOrders([id]);
    await store.writeConditional([{ id, rev: stored!.rev, order: markSent(stored!.order, new Date()) }]);
  }
  const scheduler = new Scheduler({
    orders: store,
    requests: new InMemoryRequestStore({ orders: store }),
    locks: new InMemoryLockStore(),
    delivery: client,
    owner: 'new-owner',
    partitions,
    options: { sweepIntervalMs: 3_600_000, retentionIntervalMs: 3_600_000 },
  });
  try {
    await scheduler.dispatchDue();
  } finally {
    await scheduler.stop();
  }
  return [...stub.received].sort();
}

it('does not deliver again what the former owner recorded, while the search still lags behind it', async () => {
  expect(await dispatchWith(takenOver(100))).toEqual(['7-3', '7-4']);
});

it('trusts the search once the lag has passed since the take-over (no read by id)', async () => {
  // Past searchLagMs (5 s by default) the search is trusted: the lagging view here delivers all four.
  expect(await dispatchWith(takenOver(60_000))).toEqual(['7-1', '7-2', '7-3', '7-4']);
});
