/**
 * `command-manager setup`: installs the index templates and creates the indices, once, at deploy time, with
 * an administrator's OpenSearch credentials (OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD or the configuration
 * file). Template writes cannot be scoped to a template name, so the sidecar's own role gets only the
 * template `get` permission: at start it finds the templates installed here and writes none. Idempotent.
 */
import { parseArgs } from 'node:util';
import { OpenSearchSetup } from '@command-manager/opensearch';
import { loadConfig } from '../config/load-config';
import { createLogger } from '../logging';
import { opensearchClientFromConfig } from '../opensearch-client-from-config';

export const SETUP_USAGE = `  setup                         install the index templates and indices with an administrator's OpenSearch
                                  credentials (deploy time); --config <file.json>, same settings as serve`;

export async function setupCommand(
  args: string[],
  exitCodes: { OK: number; USAGE: number },
): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } }, strict: true });
  const config = loadConfig(values.config !== undefined ? { file: values.config } : {});
  if (config.opensearch.url === undefined) {
    console.error('setup needs the indexer: set OPENSEARCH_URL (or opensearch.url)');
    return exitCodes.USAGE;
  }
  const client = opensearchClientFromConfig(config.opensearch, config.opensearch.url);
  try {
    const setup = new OpenSearchSetup({
      client,
      ordersIndex: config.indices.orders,
      shards: config.indices.shards,
      replicas: config.indices.replicas,
      logger: createLogger({ level: config.log.level }),
    });
    await setup.init();
    const { layout } = setup;
    console.log(`templates: ${Object.values(layout.templates).join(', ')}`);
    console.log(`indices: ${layout.orders}, ${layout.requests}`);
    return exitCodes.OK;
  } finally {
    await client.close();
  }
}
