/**
 * The agents index for tests, examples and benchmarks (in production it belongs to Wazuh): creates it with
 * the mapping the directory reads and writes agents in bulk, each under its agent id.
 */
import type { AgentInfo } from '@command-manager/core';
import { CommandManagerError, ErrorCodes } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import { DEFAULT_AGENTS_INDEX } from './index-layout';
import type { RefreshPolicy } from './internal/bulk';
import { bulkOp, chunkOps, itemReason, sendBulk } from './internal/bulk';
import { createIndexIfMissing } from './internal/create-index';
import { AGENTS_MAPPINGS } from './internal/mappings';

export interface AgentsIndexOptions {
  /** Default `wazuh-agents`. */
  index?: string;
  shards?: number;
  /** Default 0 (a test or example index). */
  replicas?: number;
  /** Longest wait for the primaries of an index that already existed (default 30 s). */
  activeTimeoutMs?: number;
}

/** Creates the agents index if missing (an existing index is left as it is). */
export async function createAgentsIndex(client: Client, options: AgentsIndexOptions = {}): Promise<void> {
  const index = options.index ?? DEFAULT_AGENTS_INDEX;
  await createIndexIfMissing(client, index, {
    body: {
      settings: { number_of_shards: options.shards ?? 1, number_of_replicas: options.replicas ?? 0 },
      mappings: AGENTS_MAPPINGS as Record<string, unknown>,
    },
    ...(options.activeTimeoutMs !== undefined && { activeTimeoutMs: options.activeTimeoutMs }),
  });
}

export interface SeedAgentsOptions {
  index?: string;
  /** Agents per bulk request (default 5,000). */
  batchSize?: number;
  /** Refresh of the last bulk request (default `true`: searchable on return). */
  refresh?: RefreshPolicy;
}

/** Indexes agents (`_id` = agent id, so seeding twice replaces). Throws if any agent was not written. */
export async function seedAgents(
  client: Client,
  agents: Iterable<AgentInfo>,
  options: SeedAgentsOptions = {},
): Promise<number> {
  const index = options.index ?? DEFAULT_AGENTS_INDEX;
  const ops = [...agents].map((a) => {
    const agent: Record<string, unknown> = { id: a.id, groups: a.groups };
    if (a.status !== undefined) agent.status = a.status;
    return bulkOp({ index: { _id: a.id } }, { agent });
  });
  const chunks = [...chunkOps(ops, Math.max(1, options.batchSize ?? 5000), 10 * 1024 * 1024)];
  let written = 0;
  for (const [i, chunk] of chunks.entries()) {
    const items = await sendBulk(client, {
      index,
      ops: chunk,
      refresh: i === chunks.length - 1 ? (options.refresh ?? true) : false,
      operation: 'bulk index agents',
    });
    const failed = items.find((item) => item.status !== 200 && item.status !== 201);
    if (failed)
      throw new CommandManagerError(ErrorCodes.INTERNAL, `seeding agents failed: ${itemReason(failed)}`);
    written += items.length;
  }
  return written;
}
