import type { AgentInfo } from '@command-manager/core';
import {
  createAgentsIndex,
  createOpenSearchClient,
  OpenSearchAgentDirectory,
  seedAgents,
} from '@command-manager/opensearch';
import { testIndices } from './helpers/test-indices';

const t = testIndices(__filename);
jest.setTimeout(60_000);

const agentsIndex = `${t.prefix}agents`;
const STATUSES = ['active', 'disconnected', 'pending'];

/** 5,000 agents of `fleet` (every 3rd also in `third`) and 10 of `other`. */
function agents(): AgentInfo[] {
  const out: AgentInfo[] = [];
  for (let i = 1; i <= 5000; i++) {
    out.push({
      id: `a${String(i).padStart(6, '0')}`,
      groups: i % 3 === 0 ? ['fleet', 'third'] : ['fleet'],
      status: STATUSES[i % 3]!,
    });
  }
  for (let i = 1; i <= 10; i++) out.push({ id: `o${i}`, groups: ['other'], status: 'active' });
  return out;
}

/** PIT ids created and search requests sent through the client (observed on its 'response' event). */
const seen = { pits: [] as string[], searches: 0 };

beforeAll(async () => {
  await createAgentsIndex(t.client, { index: agentsIndex });
  expect(await seedAgents(t.client, agents(), { index: agentsIndex, batchSize: 2000 })).toBe(5010);
  t.client.on('response', (_err, meta) => {
    const path = meta?.meta?.request?.params?.path ?? '';
    const body = meta?.body as { pit_id?: string } | undefined;
    if (path.endsWith('/_search/point_in_time') && body?.pit_id) seen.pits.push(body.pit_id);
    if (path.endsWith('/_search')) seen.searches++;
  });
});

afterAll(async () => {
  await t.close();
});

async function livePits(): Promise<Set<string>> {
  const res = await t.admin.getAllPits();
  return new Set((res.body.pits ?? []).map((p: { pit_id?: string }) => p.pit_id ?? ''));
}

describe('OpenSearchAgentDirectory', () => {
  const directory = new OpenSearchAgentDirectory({ client: t.client, agentsIndex, lookupBatchSize: 1000 });

  it('pages 5,000 members with a point in time and search_after: all, once each, in id order, PIT deleted', async () => {
    seen.pits = [];
    const pages: AgentInfo[][] = [];
    for await (const page of directory.groupMembers('fleet', { pageSize: 700 })) pages.push(page);
    expect(pages.map((p) => p.length)).toEqual([700, 700, 700, 700, 700, 700, 700, 100]);
    const ids = pages.flat().map((a) => a.id);
    expect(ids).toEqual(
      agents()
        .filter((a) => a.groups.includes('fleet'))
        .map((a) => a.id),
    );
    expect(seen.pits).toHaveLength(1);
    const live = await livePits();
    for (const pit of seen.pits) expect(live.has(pit)).toBe(false);
  });

  it('filters on status and agrees with countGroupMembers', async () => {
    const members: AgentInfo[] = [];
    for await (const page of directory.groupMembers('third', { pageSize: 500, statuses: ['active'] }))
      members.push(...page);
    const want = agents().filter((a) => a.groups.includes('third') && a.status === 'active');
    expect(members).toEqual(want);
    expect(await directory.countGroupMembers('third', { statuses: ['active'] })).toBe(want.length);
    expect(await directory.countGroupMembers('fleet')).toBe(5000);
  });

  it('deletes the point in time when the consumer stops after the first page', async () => {
    seen.pits = [];
    for await (const page of directory.groupMembers('fleet', { pageSize: 10 })) {
      expect(page).toHaveLength(10);
      break;
    }
    expect(seen.pits).toHaveLength(1);
    expect((await livePits()).has(seen.pits[0]!)).toBe(false);
  });

  it('reads one page ahead: the next search is sent before the consumer is handed the current page', async () => {
    seen.searches = 0;
    for await (const page of directory.groupMembers('fleet', { pageSize: 100 })) {
      expect(page).toHaveLength(100);
      break;
    }
    // The consumer stopped after one page, yet two searches were answered: the second was sent with the
    // first page (read-ahead), and settled before the PIT was deleted. Without read-ahead it would be one.
    expect(seen.searches).toBe(2);
  });

  it('a read-ahead that fails while the consumer holds a page reaches the consumer as an error', async () => {
    // No second try: the failure of the page is final.
    const once = new OpenSearchAgentDirectory({ client: t.client, agentsIndex, pageRetries: 0 });
    const pages: AgentInfo[][] = [];
    const walk = async (): Promise<void> => {
      for await (const page of once.groupMembers('fleet', { pageSize: 100 })) {
        pages.push(page);
        if (pages.length === 1) {
          // The point in time vanishes under the walk (as when it expires): the searches after it fail.
          await t.admin.deleteAllPits();
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    };
    await expect(walk()).rejects.toThrow(/page group members/);
    // The search read ahead before the PIT went (twice the first one: two pages) may or may not have been
    // served; never the whole group (50 pages).
    expect(pages.length).toBeGreaterThanOrEqual(1);
    expect(pages.length).toBeLessThanOrEqual(3);
  });

  it('reads more than a page per search (one page, then twice the last, up to walkSearchSize)', async () => {
    const walker = new OpenSearchAgentDirectory({ client: t.client, agentsIndex, walkSearchSize: 1000 });
    seen.searches = 0;
    const pages: AgentInfo[][] = [];
    for await (const page of walker.groupMembers('fleet', { pageSize: 100 })) pages.push(page);
    expect(pages.map((p) => p.length)).toEqual(new Array(50).fill(100));
    expect(pages.flat().map((a) => a.id)).toEqual(
      agents()
        .filter((a) => a.groups.includes('fleet'))
        .map((a) => a.id),
    );
    // 100 + 200 + 400 + 800 + 1000 × 3 members, then a search of 1000 that answers the last 500: 8 searches
    // where one per page would be 50.
    expect(seen.searches).toBe(8);
  });

  it('asks again for half as many members when an answer is over the byte bound, and misses none', async () => {
    const small = new OpenSearchAgentDirectory({ client: t.client, agentsIndex, maxResponseBytes: 4096 });
    const pages: AgentInfo[][] = [];
    for await (const page of small.groupMembers('third', { pageSize: 100 })) pages.push(page);
    const want = agents().filter((a) => a.groups.includes('third'));
    expect(pages.flat()).toEqual(want);
    expect(pages.slice(0, -1).every((p) => p.length === 100)).toBe(true);
  });

  it('fails a walk, without retrying it, on a member larger than the byte bound alone', async () => {
    const groups = ['huge', ...Array.from({ length: 300 }, (_, i) => `group-with-a-long-name-${i}`)];
    expect(await seedAgents(t.client, [{ id: 'h1', groups, status: 'active' }], { index: agentsIndex })).toBe(
      1,
    );
    const small = new OpenSearchAgentDirectory({
      client: t.client,
      agentsIndex,
      maxResponseBytes: 4096,
      pageRetryDelayMs: 60_000,
    });
    const walk = async (): Promise<void> => {
      for await (const page of small.groupMembers('huge')) expect(page).toBeDefined();
    };
    // A retry would wait a minute first: the test's time limit says none was made.
    await expect(walk()).rejects.toThrow(/member of group "huge" is larger than 4096 bytes/);
  });

  it('looks agents up within the byte bound: a batch whose answer is larger is looked up in halves', async () => {
    const small = new OpenSearchAgentDirectory({ client: t.client, agentsIndex, maxResponseBytes: 4096 });
    const ids = agents()
      .slice(0, 300)
      .map((a) => a.id);
    const found = await small.lookupAgents([...ids, 'nobody']);
    expect([...found.keys()].sort()).toEqual([...ids].sort());
    // An agent larger than the bound alone (seeded by the test above) fails the lookup with a clear error.
    await expect(small.lookupAgents(['a000001', 'h1'])).rejects.toThrow(
      /agent "h1" is larger than 4096 bytes/,
    );
  });

  it('goes on from where it was with a new point in time when its own vanishes (a node holding it died)', async () => {
    const pages: AgentInfo[][] = [];
    const pitsBefore = seen.pits.length;
    for await (const page of directory.groupMembers('fleet', { pageSize: 700 })) {
      pages.push(page);
      if (pages.length === 2) await t.admin.deleteAllPits();
    }
    const ids = pages.flat().map((a) => a.id);
    const expected = agents()
      .filter((a) => a.groups.includes('fleet'))
      .map((a) => a.id);
    expect(ids).toEqual(expected);
    // The walk opened a second point in time, and deleted it at the end.
    expect(seen.pits.length - pitsBefore).toBe(2);
    const live = await livePits();
    for (const id of seen.pits.slice(pitsBefore)) expect(live.has(id)).toBe(false);
  });

  it('looks agents up with one terms query per batch of ids, never one per agent', async () => {
    const wanted = [
      ...agents()
        .slice(0, 2500)
        .map((a) => a.id),
      'nope-1',
      'nope-2',
      'a000001',
    ];
    seen.searches = 0;
    const found = await directory.lookupAgents(wanted);
    expect(seen.searches).toBe(3);
    expect(found.size).toBe(2500);
    expect(found.get('a000003')).toEqual({ id: 'a000003', groups: ['fleet', 'third'], status: 'active' });
    expect(found.has('nope-1')).toBe(false);
  });

  it('shares one search among concurrent small lookups, and each caller gets exactly its own agents', async () => {
    const shared = new OpenSearchAgentDirectory({
      client: t.client,
      agentsIndex,
      lookupBatchSize: 1000,
      maxInflightLookups: 1,
    });
    // 40 callers at once, as 40 single-target submissions would: overlapping ids, repeats, unknown ones.
    const asks = Array.from({ length: 40 }, (_, i) => [
      `a${String(i + 1).padStart(6, '0')}`,
      `a${String(i + 2).padStart(6, '0')}`,
      `a${String(i + 1).padStart(6, '0')}`,
      `missing-${i}`,
    ]);
    seen.searches = 0;
    const answers = await Promise.all(asks.map((ids) => shared.lookupAgents(ids)));
    // The first caller goes alone (idle directory: no waiting); the 39 that arrived meanwhile share one more.
    expect(seen.searches).toBe(2);
    answers.forEach((found, i) => {
      expect([...found.keys()].sort()).toEqual(
        [`a${String(i + 1).padStart(6, '0')}`, `a${String(i + 2).padStart(6, '0')}`].sort(),
      );
      expect(found.get(`a${String(i + 1).padStart(6, '0')}`)?.groups).toContain('fleet');
    });
  });

  it('fails every caller of a shared lookup when its search fails', async () => {
    // Nothing listens on port 1: every search fails in transport.
    const down = createOpenSearchClient({ node: 'http://127.0.0.1:1', maxRetries: 0 });
    const broken = new OpenSearchAgentDirectory({ client: down, agentsIndex, maxInflightLookups: 1 });
    const calls = [1, 2, 3].map((i) => broken.lookupAgents([`a00000${i}`]));
    for (const call of calls) await expect(call).rejects.toThrow(/look up agents/);
    await down.close();
  });

  it('yields nothing for an unknown group or a missing agents index', async () => {
    const pages: AgentInfo[][] = [];
    for await (const page of directory.groupMembers('nobody')) pages.push(page);
    expect(pages).toEqual([]);
    const missing = new OpenSearchAgentDirectory({
      client: t.client,
      agentsIndex: `${t.prefix}no-such-index`,
    });
    for await (const page of missing.groupMembers('fleet')) pages.push(page);
    expect(pages).toEqual([]);
    expect(await missing.countGroupMembers('fleet')).toBe(0);
    expect((await missing.lookupAgents(['a000001'])).size).toBe(0);
  });
});
