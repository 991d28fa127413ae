/**
 * Probe (not part of `pnpm bench`): what a group walk costs OpenSearch, read from the agents index's search
 * statistics around `OpenSearchAgentDirectory.groupMembers`, with the walk's largest search set to 1,000
 * members (one page per search) and then to 10,000 (the default).
 *
 * Seeds AGENTS agents (default 1,000,000) into `probe-group-walk-agents` once (kept for later runs; delete it
 * by hand): the first 100,000 in group `small`, every agent in group `all`. Then walks `small` and `all`
 * with each search size and prints, per walk: members, wall time, searches, query and fetch time.
 *
 * Run: pnpm build && OPENSEARCH_URL=… node -r ts-node/register/transpile-only bench/probes/group-walk.ts
 * Env: OPENSEARCH_URL (default http://127.0.0.1:9200), AGENTS (1000000).
 */
import type { AgentInfo } from '@command-manager/core';
import {
  createAgentsIndex,
  createOpenSearchClient,
  OpenSearchAgentDirectory,
  seedAgents,
} from '@command-manager/opensearch';

const OPENSEARCH_URL = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
const AGENTS = Number(process.env.AGENTS ?? 1_000_000);
const SMALL = 100_000;
const SEED_CHUNK = 100_000;
const index = 'probe-group-walk-agents';
const client = createOpenSearchClient({ node: OPENSEARCH_URL, requestTimeoutMs: 300_000 });

interface SearchStats {
  queries: number;
  queryMs: number;
  fetchMs: number;
}

interface StatsAnswer {
  indices?: Record<
    string,
    {
      total?: {
        search?: { query_total?: number; query_time_in_millis?: number; fetch_time_in_millis?: number };
      };
    }
  >;
}

async function searchStats(): Promise<SearchStats> {
  const res = await client.indices.stats({ index, metric: ['search'] });
  const search = (res.body as StatsAnswer).indices?.[index]?.total?.search;
  return {
    queries: search?.query_total ?? 0,
    queryMs: search?.query_time_in_millis ?? 0,
    fetchMs: search?.fetch_time_in_millis ?? 0,
  };
}

async function seedOnce(): Promise<void> {
  if ((await client.indices.exists({ index })).body) return;
  await createAgentsIndex(client, { index });
  const t0 = Date.now();
  for (let start = 0; start < AGENTS; start += SEED_CHUNK) {
    const chunk: AgentInfo[] = [];
    for (let i = start + 1; i <= Math.min(AGENTS, start + SEED_CHUNK); i++) {
      chunk.push({
        id: String(i).padStart(7, '0'),
        groups: [i <= SMALL ? 'small' : 'rest', 'all'],
        status: 'active',
      });
    }
    await seedAgents(client, chunk, { index, batchSize: 10_000, refresh: start + SEED_CHUNK >= AGENTS });
  }
  process.stdout.write(`seeded ${AGENTS} agents in ${Date.now() - t0} ms\n`);
}

async function main(): Promise<void> {
  await seedOnce();
  for (const group of ['small', 'all']) {
    for (const walkSearchSize of [1000, 10_000]) {
      const directory = new OpenSearchAgentDirectory({ client, agentsIndex: index, walkSearchSize });
      const before = await searchStats();
      const t0 = Date.now();
      let members = 0;
      for await (const page of directory.groupMembers(group)) members += page.length;
      const wallMs = Date.now() - t0;
      const after = await searchStats();
      process.stdout.write(
        `group ${group} (${members} members), up to ${walkSearchSize} per search: ${wallMs} ms wall; ` +
          `${after.queries - before.queries} searches, query ${after.queryMs - before.queryMs} ms, ` +
          `fetch ${after.fetchMs - before.fetchMs} ms\n`,
      );
    }
  }
  await client.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`group walk probe failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
