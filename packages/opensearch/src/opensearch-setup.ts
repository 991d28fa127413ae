/**
 * Index setup, run by every sidecar at start: composable index templates (so that an index re-created by
 * auto-creation, and every monthly archive index, gets the explicit mappings) and the indices themselves.
 * Idempotent and safe when several sidecars start at once: `PUT _index_template` replaces a template with
 * the same content, and a concurrent `PUT <index>` that loses the race gets `resource_already_exists_exception`,
 * which is success here. An index that already existed gets the mapping's properties added (`PUT _mapping`
 * is additive), so an older orders index gains the `scheduling` object; a field whose type differs is a
 * configuration error reported with the field named by OpenSearch.
 */
import type { Logger } from '@command-manager/core';
import { CommandManagerError, ErrorCodes, noopLogger } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import type { IndexLayout } from './index-layout';
import { indexLayout } from './index-layout';
import { ORDERS_MAPPINGS, REQUESTS_MAPPINGS } from './internal/mappings';
import { guarded, responseErrorInfo, toStoreError } from './internal/store-errors';

export interface IndexSettingsOptions {
  /** Primary shards of each index created (default 1). */
  shards?: number;
  /**
   * Replicas of each index created. Unset: `auto_expand_replicas: 0-1`, green on one node and one replica
   * as soon as a second node joins.
   */
  replicas?: number;
  /** Priority of the composable templates (default 100); raise it above any template overlapping them. */
  templatePriority?: number;
}

export interface OpenSearchSetupOptions extends IndexSettingsOptions {
  client: Client;
  /** Orders index name (default `wazuh-commands`); every other name derives from it. */
  ordersIndex?: string;
  logger?: Logger;
}

type Mappings = typeof ORDERS_MAPPINGS | typeof REQUESTS_MAPPINGS;

export class OpenSearchSetup {
  readonly layout: IndexLayout;
  private readonly client: Client;
  private readonly settings: Record<string, unknown>;
  private readonly priority: number;
  private readonly logger: Logger;

  constructor(options: OpenSearchSetupOptions) {
    this.client = options.client;
    this.layout = indexLayout(options.ordersIndex);
    this.logger = (options.logger ?? noopLogger).child({ component: 'opensearch-setup' });
    this.priority = options.templatePriority ?? 100;
    const shards = options.shards ?? 1;
    this.settings =
      options.replicas === undefined
        ? { number_of_shards: shards, auto_expand_replicas: '0-1' }
        : { number_of_shards: shards, number_of_replicas: options.replicas };
  }

  /** Everything: orders, archive and requests templates and indices. */
  async init(): Promise<void> {
    await Promise.all([this.initOrders(), this.initRequests()]);
  }

  /** The orders template and index, and the archive template. */
  async initOrders(): Promise<void> {
    await Promise.all([
      this.putTemplate(this.layout.templates.orders, [this.layout.orders], ORDERS_MAPPINGS),
      this.putTemplate(this.layout.templates.archive, [this.layout.archivePattern], ORDERS_MAPPINGS),
    ]);
    await this.ensureIndex(this.layout.orders, ORDERS_MAPPINGS);
    // Archive indices already created keep the mapping of their day: fields added since (strict mapping)
    // would make archiving into them fail, so they get the current mapping too (additions only).
    await guarded('update mapping of the archive indices', () =>
      this.client.indices.putMapping({
        index: this.layout.archivePattern,
        allow_no_indices: true,
        ignore_unavailable: true,
        body: { properties: ORDERS_MAPPINGS.properties } as Record<string, unknown>,
      }),
    );
  }

  /** The requests template and index (request records, idempotency, request-id counter, locks). */
  async initRequests(): Promise<void> {
    await this.putTemplate(this.layout.templates.requests, [this.layout.requests], REQUESTS_MAPPINGS);
    await this.ensureIndex(this.layout.requests, REQUESTS_MAPPINGS);
  }

  private async putTemplate(name: string, patterns: string[], mappings: Mappings): Promise<void> {
    await guarded(`put index template ${name}`, () =>
      this.client.indices.putIndexTemplate({
        name,
        body: {
          index_patterns: patterns,
          priority: this.priority,
          template: { settings: this.settings, mappings: mappings as Record<string, unknown> },
          _meta: { managed_by: 'command-manager' },
        },
      }),
    );
  }

  private async ensureIndex(index: string, mappings: Mappings): Promise<void> {
    try {
      // Settings and mappings come from the template just installed.
      await this.client.indices.create({ index });
      this.logger.info('index created', { index });
      return;
    } catch (e) {
      const info = responseErrorInfo(e);
      if (info?.type !== 'resource_already_exists_exception') throw toStoreError(e, `create index ${index}`);
    }
    try {
      await this.client.indices.putMapping({
        index,
        body: { properties: mappings.properties } as Record<string, unknown>,
      });
    } catch (e) {
      const info = responseErrorInfo(e);
      if (info?.status === 400) {
        throw new CommandManagerError(
          ErrorCodes.CONFIG_INVALID,
          `index ${index} exists with a mapping incompatible with the command manager's: ${info.reason ?? info.type ?? 'rejected'}`,
        );
      }
      throw toStoreError(e, `update mapping of ${index}`);
    }
  }
}
