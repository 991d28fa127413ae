/**
 * The indexer's current time, for the scheduler's clock-skew guard: `GET _cat/health` answers the cluster's
 * time as epoch seconds and needs only `cluster:monitor/health`, which the sidecar's role has already.
 */
import type { Client } from '@opensearch-project/opensearch';
import { guarded } from './internal/store-errors';

export class OpenSearchServerTime {
  /** `_cat/health` answers whole seconds. */
  readonly resolutionMs = 1000;

  constructor(private readonly client: Client) {}

  async serverTime(): Promise<Date> {
    const response = await guarded('read the indexer time', () => this.client.cat.health({ format: 'json' }));
    const rows = response.body as unknown as Array<{ epoch?: string | number }>;
    const epoch = Number(rows[0]?.epoch);
    if (!Number.isFinite(epoch)) throw new Error('the indexer answered no time (_cat/health without epoch)');
    return new Date(epoch * 1000);
  }
}
