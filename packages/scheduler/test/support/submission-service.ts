import { ActionRegistry, CommandService } from '@command-manager/core';
import type { Clock, CommandServiceDeps } from '@command-manager/core';

/** A command service over the given stores, for tests that submit through core (e.g. live group commands). */
export function submissionService(
  stores: Pick<CommandServiceDeps, 'orders' | 'requests' | 'ids' | 'agents'> & { clock?: Clock },
): CommandService {
  return new CommandService({
    ...stores,
    registry: ActionRegistry.withDefaults(),
    limits: { maxBatchCommands: 10, maxFanOut: 1000, maxResultsPerReport: 100 },
    indexName: 'wazuh-commands',
  });
}
