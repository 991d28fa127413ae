/**
 * The indexer half of `/ready`: an authenticated cluster health of the orders index (not red) and the
 * orders template present. Any failure is "not ready": a refused login (401), a user without the role
 * (403), a TLS refusal, and the `503 OpenSearch Security not initialized` a secured node answers to every
 * call for a few seconds after its port opens, even with good credentials.
 */
import type { Client } from '@opensearch-project/opensearch';

export interface OpenSearchReadiness {
  ready: boolean;
  checks: { opensearch: boolean; templates?: boolean };
}

export async function opensearchReadiness(
  client: Client,
  ordersIndex: string,
  ordersTemplate: string,
): Promise<OpenSearchReadiness> {
  const checks: OpenSearchReadiness['checks'] = { opensearch: false };
  try {
    // No client retries: readiness is polled, and an answer within the probe's timeout matters more.
    const health = await client.cluster.health({ index: ordersIndex, timeout: '2s' }, { maxRetries: 0 });
    checks.opensearch = health.body.status !== 'red';
    checks.templates = (
      await client.indices.existsIndexTemplate({ name: ordersTemplate }, { maxRetries: 0 })
    ).body;
  } catch {
    checks.opensearch = false;
  }
  return { ready: checks.opensearch && checks.templates === true, checks };
}
