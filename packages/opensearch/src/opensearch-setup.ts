/**
 * Index setup, run by every sidecar at start: composable index templates (so that an index re-created by
 * auto-creation, and every monthly archive index, gets the explicit mappings) and the indices themselves.
 * Idempotent and safe when several sidecars start at once: `PUT _index_template` replaces a template with
 * the same content, and a concurrent `PUT <index>` that loses the race gets `resource_already_exists_exception`,
 * which is success here. An index that already existed gets the mapping's properties added (`PUT _mapping`
 * is additive), so an older orders index gains the `scheduling` object; a field whose type differs is a
 * configuration error reported with the field named by OpenSearch.
 *
 * Two ways to run it. `init()` installs everything and needs the template `put` permission, which cannot be
 * scoped to a template name (a role that may put templates may put any template): the `setup` CLI command
 * runs it once at deploy time with an administrator's credentials. `ensure()` is what a sidecar runs at
 * start: templates that are already installed with this product's content are only read (`get`), so the
 * sidecar's least-privilege role needs no template write; a missing or outdated template is installed when
 * the user may, and a refusal names the `setup` command.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '@command-manager/core';
import {
  CommandManagerError,
  DEFAULT_PARTITIONS,
  ErrorCodes,
  MAX_PARTITIONS,
  noopLogger,
} from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import type { IndexLayout } from './index-layout';
import { indexLayout } from './index-layout';
import { createIndexIfMissing } from './internal/create-index';
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
  /**
   * Partitions of an orders index this setup creates (default `DEFAULT_PARTITIONS`), recorded in its
   * mapping's `_meta.partitions`. An existing index keeps the count it was created with (`partitions`).
   */
  partitions?: number;
  logger?: Logger;
}

type Mappings = typeof ORDERS_MAPPINGS | typeof REQUESTS_MAPPINGS;

export class OpenSearchSetup {
  readonly layout: IndexLayout;
  private readonly client: Client;
  private readonly settings: Record<string, unknown>;
  private readonly priority: number;
  private readonly logger: Logger;
  private readonly wantedPartitions: number;
  private recordedPartitions: number | undefined;

  constructor(options: OpenSearchSetupOptions) {
    this.client = options.client;
    this.layout = indexLayout(options.ordersIndex);
    this.logger = (options.logger ?? noopLogger).child({ component: 'opensearch-setup' });
    this.priority = options.templatePriority ?? 100;
    this.wantedPartitions = validPartitions(options.partitions) ?? DEFAULT_PARTITIONS;
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

  /** Same as `init()`: what a sidecar runs at start (see the file's comment). */
  async ensure(): Promise<void> {
    await this.init();
  }

  /** The orders template and index, and the archive template. */
  async initOrders(): Promise<void> {
    const { templates } = this.layout;
    await this.ensureTemplates([templates.orders, templates.archive]);
    await this.ensureIndex(this.layout.orders, ORDERS_MAPPINGS, {
      mappings: { _meta: { partitions: this.wantedPartitions } },
    });
    this.recordedPartitions = await this.ensurePartitions();
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

  /**
   * The partition count of the orders index, as recorded at its creation; known once `init`, `ensure` or
   * `initOrders` returned.
   */
  get partitions(): number {
    if (this.recordedPartitions === undefined)
      throw new Error('OpenSearchSetup: partitions read before init');
    return this.recordedPartitions;
  }

  /** Reads the orders index's partition count; an index created before partitions existed is given one. */
  private async ensurePartitions(): Promise<number> {
    const index = this.layout.orders;
    const read = async (): Promise<number | undefined> => {
      const res = await guarded(`get mapping of ${index}`, () => this.client.indices.getMapping({ index }));
      const body = res.body as Record<string, { mappings?: { _meta?: { partitions?: unknown } } }>;
      const recorded = Object.values(body)[0]?.mappings?._meta?.partitions;
      return validPartitions(recorded);
    };
    const recorded = await read();
    if (recorded !== undefined) {
      if (recorded !== this.wantedPartitions)
        this.logger.warn('the orders index was created with another partition count: it is kept', {
          index,
          partitions: recorded,
          configured: this.wantedPartitions,
        });
      return recorded;
    }
    await guarded(`record the partition count of ${index}`, () =>
      this.client.indices.putMapping({ index, body: { _meta: { partitions: this.wantedPartitions } } }),
    );
    // Another sidecar may have recorded its own count at the same moment: the stored one is the answer.
    return (await read()) ?? this.wantedPartitions;
  }

  /** The requests template and index (request records, idempotency, request-id counter, locks). */
  async initRequests(): Promise<void> {
    await this.ensureTemplates([this.layout.templates.requests]);
    await this.ensureIndex(this.layout.requests, REQUESTS_MAPPINGS);
  }

  /**
   * Reads the templates and installs only those missing or differing from this product's, so that a
   * least-privilege user with the template `get` permission alone runs against templates an administrator
   * installed. A refused install is an error when the template is missing, a warning when it only differs.
   */
  private async ensureTemplates(names: string[]): Promise<void> {
    const wanted = this.templateSpecs();
    const installed = await this.installedTemplateHashes(names);
    const stale = names.filter((name) => installed.get(name) !== hashOf(wanted[name]!));
    await Promise.all(
      stale.map(async (name) => {
        try {
          await this.client.indices.putIndexTemplate({ name, body: wanted[name]! });
        } catch (e) {
          const info = responseErrorInfo(e);
          if (info?.status !== 401 && info?.status !== 403) {
            throw toStoreError(e, `put index template ${name}`);
          }
          if (!installed.has(name)) {
            throw new CommandManagerError(
              ErrorCodes.CONFIG_INVALID,
              `index template ${name} is missing and this OpenSearch user may not install it: run \`command-manager setup\` once with an administrator's credentials`,
            );
          }
          this.logger.warn(
            'index template differs from this version and this user may not update it: run `command-manager setup`',
            { template: name },
          );
        }
      }),
    );
  }

  /** The body of every template this product installs, by name. */
  private templateSpecs(): Record<string, Record<string, unknown>> {
    const { templates, orders, archivePattern, requests } = this.layout;
    return {
      [templates.orders]: this.templateBody([orders], ORDERS_MAPPINGS),
      [templates.archive]: this.templateBody([archivePattern], ORDERS_MAPPINGS),
      [templates.requests]: this.templateBody([requests], REQUESTS_MAPPINGS),
    };
  }

  private templateBody(patterns: string[], mappings: Mappings): Record<string, unknown> {
    const content = {
      index_patterns: patterns,
      priority: this.priority,
      template: { settings: this.settings, mappings: mappings as Record<string, unknown> },
    };
    return { ...content, _meta: { managed_by: 'command-manager', content_hash: contentHash(content) } };
  }

  /** `_meta.content_hash` of each installed template among `names` (absent: not installed). */
  private async installedTemplateHashes(names: string[]): Promise<Map<string, string | undefined>> {
    const out = new Map<string, string | undefined>();
    await Promise.all(
      names.map(async (name) => {
        let body: { index_templates?: Array<{ index_template?: { _meta?: { content_hash?: unknown } } }> };
        try {
          body = (await this.client.indices.getIndexTemplate({ name })).body as typeof body;
        } catch (e) {
          if (responseErrorInfo(e)?.status === 404) return;
          throw toStoreError(e, `get index template ${name}`);
        }
        const template = body.index_templates?.[0];
        if (!template) return;
        const hash = template.index_template?._meta?.content_hash;
        out.set(name, typeof hash === 'string' ? hash : undefined);
      }),
    );
    return out;
  }

  private async ensureIndex(
    index: string,
    mappings: Mappings,
    body?: Record<string, unknown>,
  ): Promise<void> {
    // Settings and mappings come from the template just installed (`body` adds to them).
    if ((await createIndexIfMissing(this.client, index, body ? { body } : {})) === 'created') {
      this.logger.info('index created', { index });
      return;
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

function validPartitions(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_PARTITIONS
    ? value
    : undefined;
}

/** Identifies a template's content: the same patterns, priority, settings and mappings give the same hash. */
function contentHash(content: unknown): string {
  return createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 32);
}

function hashOf(body: Record<string, unknown>): string | undefined {
  return (body._meta as { content_hash?: string } | undefined)?.content_hash;
}
