/**
 * Testcontainers' OpenSearch, used when a container runtime answers (a developer's laptop with Docker).
 * Loaded lazily: on machines without a runtime the module is never required.
 */
/** Same 2.19.x as the integ-test distribution; override with OPENSEARCH_IMAGE. */
export const OPENSEARCH_IMAGE = process.env.OPENSEARCH_IMAGE ?? 'opensearchproject/opensearch:2.19.6';

export interface StartedContainer {
  url: string;
  stop(): Promise<void>;
}

/** True when Testcontainers finds a container runtime; false (quickly) when none answers. */
export async function containerRuntimeAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export async function startContainerOpenSearch(): Promise<StartedContainer> {
  const { OpenSearchContainer } = await import('@testcontainers/opensearch');
  // Security plugin off: tests talk plain HTTP to the node, as they do to the integ-test distribution.
  const container = await new OpenSearchContainer(OPENSEARCH_IMAGE).withSecurityEnabled(false).start();
  return { url: container.getHttpUrl(), stop: async () => void (await container.stop()) };
}
