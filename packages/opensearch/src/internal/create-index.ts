/**
 * Creates an index when it is missing, the way several sidecars starting at once need it: the one whose
 * `PUT <index>` wins returns once the primary shard is active (the create's own `wait_for_active_shards`);
 * the others get `resource_already_exists_exception` at a moment when the index may exist in the cluster
 * state with its primary not yet started, where a search answers 503 `search_phase_execution_exception`.
 * So a loser waits for the index to be at least yellow (every primary active), and then until a search of
 * it answers: just after the health turns yellow, a search may still answer 503 "all shards failed" for a
 * moment (measured here: three sidecars starting at once, one search in two). Both waits share one bound.
 */
import type { Client } from '@opensearch-project/opensearch';
import { CommandManagerError, ErrorCodes } from '@command-manager/core';
import { isUnavailable, responseErrorInfo, toStoreError } from './store-errors';

/** How long a sidecar that did not create the index waits for its primaries by default. */
export const INDEX_ACTIVE_TIMEOUT_MS = 30_000;

export interface CreateIndexOptions {
  /** Settings and mappings of the create (none when a template provides them). */
  body?: Record<string, unknown>;
  /** Longest wait for the primaries of an index another caller created. */
  activeTimeoutMs?: number;
}

/** `created` when this call created the index, `existed` when it was there (primaries active on return). */
export async function createIndexIfMissing(
  client: Client,
  index: string,
  options: CreateIndexOptions = {},
): Promise<'created' | 'existed'> {
  try {
    await client.indices.create(options.body ? { index, body: options.body } : { index });
    return 'created';
  } catch (e) {
    if (responseErrorInfo(e)?.type !== 'resource_already_exists_exception') {
      throw toStoreError(e, `create index ${index}`);
    }
  }
  const timeoutMs = options.activeTimeoutMs ?? INDEX_ACTIVE_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  await waitForPrimaries(client, index, timeoutMs);
  await waitForSearch(client, index, deadline);
  return 'existed';
}

/** Pause between two searches of an index whose shards are not searchable yet. */
const SEARCH_PROBE_INTERVAL_MS = 100;

async function waitForSearch(client: Client, index: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      await client.search({ index, body: { size: 0 } }, { maxRetries: 0 });
      return;
    } catch (e) {
      const info = responseErrorInfo(e);
      if (info === undefined || !isUnavailable(info.status, info.type) || Date.now() >= deadline)
        throw toStoreError(e, `search ${index}`);
    }
    await new Promise((resolve) => setTimeout(resolve, SEARCH_PROBE_INTERVAL_MS));
  }
}

async function waitForPrimaries(client: Client, index: string, timeoutMs: number): Promise<void> {
  let status: string | undefined;
  try {
    const res = await client.cluster.health(
      { index, wait_for_status: 'yellow', timeout: `${timeoutMs}ms` },
      // A wait that times out answers 408 with the status it reached.
      { requestTimeout: timeoutMs + 10_000, ignore: [408] },
    );
    status = (res.body as { status?: string }).status;
  } catch (e) {
    throw toStoreError(e, `wait for the shards of ${index}`);
  }
  if (status !== 'yellow' && status !== 'green') {
    throw new CommandManagerError(
      ErrorCodes.STORE_UNAVAILABLE,
      `index ${index} has primary shards that did not start within ${timeoutMs} ms`,
    );
  }
}
