/** The OpenSearch client of a sidecar or of the `setup` command, from the `opensearch.*` settings. */
import { createOpenSearchClient } from '@command-manager/opensearch';
import type { Client } from '@opensearch-project/opensearch';
import type { SidecarConfig } from './config/sidecar-config';

export function opensearchClientFromConfig(os: SidecarConfig['opensearch'], url: string): Client {
  return createOpenSearchClient({
    node: url,
    ...(os.username !== undefined && { auth: { username: os.username, password: os.password ?? '' } }),
    ...(os.caFile !== undefined && { caFile: os.caFile }),
    ...(os.certFile !== undefined && { certFile: os.certFile }),
    ...(os.keyFile !== undefined && { keyFile: os.keyFile }),
    requestTimeoutMs: os.requestTimeoutMs,
  });
}
