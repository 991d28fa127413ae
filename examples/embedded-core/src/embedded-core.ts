import {
  ActionRegistry,
  CommandService,
  InMemoryAgentDirectory,
  InMemoryOrderStore,
  InMemoryRequestStore,
  InProcessIdAllocator,
} from '@command-manager/core';
import type { Principal, StoredOrder, SubmitResult } from '@command-manager/core';

/**
 * The indexer's content manager, as a principal: it may only claim source `Content manager`, only send the
 * content actions, and not act for another user (what the sidecar's built-in `content-manager` role grants).
 */
export const contentManager: Principal = {
  name: 'content-manager',
  roles: ['content-manager'],
  canDelegate: false,
  sources: ['Content manager'],
  actions: ['update', 'refresh'],
};

export interface EmbeddedExampleResult {
  submitted: SubmitResult;
  /** The order written for `vulnerability-detector`, as stored. */
  order: StoredOrder;
}

/**
 * Embeds `@command-manager/core` in another indexer-side service, with no HTTP loopback: the content manager
 * builds a CommandService on stores of its own (in-memory here; the OpenSearch adapters in production) and
 * tells the `vulnerability-detector` server component to update its content from an index and offset.
 */
export async function runEmbeddedExample(offset = '0'): Promise<EmbeddedExampleResult> {
  const orders = new InMemoryOrderStore();
  const service = new CommandService({
    orders,
    requests: new InMemoryRequestStore({ orders }),
    // Unique within this process only; a cluster of command managers needs the OpenSearch allocator.
    ids: new InProcessIdAllocator(),
    // A server target needs no agents; an agent or group target would be looked up here.
    agents: new InMemoryAgentDirectory(),
    registry: ActionRegistry.withDefaults(),
    limits: { maxBatchCommands: 100, maxFanOut: 10_000, maxResultsPerReport: 1000 },
    indexName: 'wazuh-commands',
  });

  const submitted = await service.submit(
    {
      commands: [
        {
          source: 'Content manager',
          user: contentManager.name,
          target: { type: 'server', id: 'vulnerability-detector' },
          action: { name: 'update', args: { index: 'wazuh-cve', offset }, version: '5.0.0' },
          timeout: 100,
        },
      ],
    },
    contentManager,
  );
  const [command] = submitted.commands;
  if (!command) throw new Error('the submission returned no command');
  const page = await service.listOrders({ requestId: command.request_id }, { size: 10 });
  const [order] = page.items;
  if (!order) throw new Error(`request ${command.request_id} has no order`);
  return { submitted, order };
}
