/**
 * The ONE contract of `AgentDirectory`, run against the in-memory twin and the OpenSearch adapter over
 * `wazuh-agents`. `makeDirectory(agents)` returns a directory holding exactly those agents.
 *
 * Semantics required: `groupMembers` yields non-empty pages of at most `pageSize` (every page but the last
 * full), sorted by agent id ascending in code-unit order (an OpenSearch `keyword` sort, for ASCII ids),
 * each member once; group membership is an exact match on a group name; `statuses` keeps agents whose
 * status is one of them (an agent without status never matches a status filter); `excludeIds` leaves those
 * ids out (unknown ones are ignored); an unknown group yields
 * nothing. `countGroupMembers` agrees with `groupMembers`. `lookupAgents` returns the known ids only.
 */
import type { AgentDirectory, AgentInfo } from '@command-manager/core';

export interface AgentDirectoryHarness {
  directory: AgentDirectory;
  cleanup(): Promise<void>;
}

const STATUSES = ['active', 'disconnected', 'never_connected', 'pending'];

/** 1,234 members of `big` (some also in `small`), 3 of `bigger`, 1 without status in `big`. */
function fixture(): AgentInfo[] {
  const agents: AgentInfo[] = [];
  for (let i = 1; i <= 1234; i++) {
    const groups = i % 10 === 0 ? ['small', 'big'] : ['big'];
    const agent: AgentInfo = { id: String(i).padStart(5, '0'), groups };
    if (i !== 777) agent.status = STATUSES[i % STATUSES.length]!;
    agents.push(agent);
  }
  agents.push(
    { id: '90001', groups: ['bigger'], status: 'active' },
    { id: '90002', groups: ['bigger', 'other'], status: 'active' },
    { id: '90003', groups: ['Big'], status: 'active' },
  );
  // Not in id order: the directory sorts.
  return agents.sort((a, b) => ((Number(a.id) * 7919) % 1237) - ((Number(b.id) * 7919) % 1237));
}

async function collect(pages: AsyncIterable<AgentInfo[]>): Promise<AgentInfo[][]> {
  const out: AgentInfo[][] = [];
  for await (const page of pages) out.push(page);
  return out;
}

function sortedIds(agents: AgentInfo[], pred: (a: AgentInfo) => boolean): string[] {
  return agents
    .filter(pred)
    .map((a) => a.id)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function describeAgentDirectoryContract(
  name: string,
  makeDirectory: (agents: AgentInfo[]) => Promise<AgentDirectoryHarness>,
): void {
  describe(`AgentDirectory contract: ${name}`, () => {
    const agents = fixture();
    let h: AgentDirectoryHarness;
    let directory: AgentDirectory;

    beforeAll(async () => {
      h = await makeDirectory(structuredClone(agents));
      directory = h.directory;
    });

    afterAll(async () => {
      await h?.cleanup();
    });

    it('pages 1,234 members with pageSize 100: all of them, once each, sorted, full pages but the last', async () => {
      const pages = await collect(directory.groupMembers('big', { pageSize: 100 }));
      expect(pages).toHaveLength(13);
      pages.forEach((p, i) => expect(p.length).toBe(i < 12 ? 100 : 34));
      const got = pages.flat().map((a) => a.id);
      expect(got).toEqual(sortedIds(agents, (a) => a.groups.includes('big')));
      expect(new Set(got).size).toBe(1234);
    });

    it('returns each member with its groups and status', async () => {
      const members = (await collect(directory.groupMembers('small', { pageSize: 50 }))).flat();
      const byId = new Map(agents.map((a) => [a.id, a]));
      expect(members).toHaveLength(123);
      for (const m of members) {
        const want = byId.get(m.id)!;
        expect([...m.groups].sort()).toEqual([...want.groups].sort());
        expect(m.status).toBe(want.status);
      }
    });

    it('pages with the default page size', async () => {
      const pages = await collect(directory.groupMembers('big'));
      expect(pages.every((p) => p.length > 0)).toBe(true);
      expect(pages.flat().map((a) => a.id)).toEqual(sortedIds(agents, (a) => a.groups.includes('big')));
    });

    it.each([1, 7, 1234, 5000])('pages with pageSize %i', async (pageSize) => {
      const pages = await collect(directory.groupMembers('small', { pageSize }));
      expect(pages.every((p) => p.length > 0 && p.length <= pageSize)).toBe(true);
      expect(pages.flat().map((a) => a.id)).toEqual(sortedIds(agents, (a) => a.groups.includes('small')));
    });

    it('filters by status', async () => {
      const active = (
        await collect(directory.groupMembers('big', { pageSize: 100, statuses: ['active'] }))
      ).flat();
      const want = sortedIds(agents, (a) => a.groups.includes('big') && a.status === 'active');
      expect(want.length).toBeGreaterThan(0);
      expect(active.map((a) => a.id)).toEqual(want);
      const two = (
        await collect(directory.groupMembers('big', { statuses: ['pending', 'disconnected'] }))
      ).flat();
      expect(two.map((a) => a.id)).toEqual(
        sortedIds(
          agents,
          (a) => a.groups.includes('big') && ['pending', 'disconnected'].includes(a.status ?? ''),
        ),
      );
      // Agent 00777 has no status: it is a member, but never matches a status filter.
      const all = (await collect(directory.groupMembers('big', { statuses: STATUSES }))).flat();
      expect(all).toHaveLength(1233);
      expect(all.map((a) => a.id)).not.toContain('00777');
    });

    it('counts members, with and without a status filter', async () => {
      expect(await directory.countGroupMembers('big')).toBe(1234);
      expect(await directory.countGroupMembers('small')).toBe(123);
      expect(await directory.countGroupMembers('big', { statuses: ['active'] })).toBe(
        agents.filter((a) => a.groups.includes('big') && a.status === 'active').length,
      );
      expect(await directory.countGroupMembers('nobody-here')).toBe(0);
    });

    it('leaves excluded ids out, with and without a status filter, and counts alike', async () => {
      const excludeIds = ['00001', '00002', '00777', 'not-an-agent'];
      const left = (await collect(directory.groupMembers('big', { pageSize: 500, excludeIds }))).flat();
      const want = sortedIds(agents, (a) => a.groups.includes('big') && !excludeIds.includes(a.id));
      expect(left.map((a) => a.id)).toEqual(want);
      expect(await directory.countGroupMembers('big', { excludeIds })).toBe(want.length);
      const activeLeft = (
        await collect(directory.groupMembers('big', { statuses: ['active'], excludeIds }))
      ).flat();
      const wantActive = sortedIds(
        agents,
        (a) => a.groups.includes('big') && a.status === 'active' && !excludeIds.includes(a.id),
      );
      expect(activeLeft.map((a) => a.id)).toEqual(wantActive);
      expect(await directory.countGroupMembers('big', { statuses: ['active'], excludeIds })).toBe(
        wantActive.length,
      );
    });

    it('matches group names exactly (no prefix, no case folding)', async () => {
      expect((await collect(directory.groupMembers('bigger'))).flat().map((a) => a.id)).toEqual([
        '90001',
        '90002',
      ]);
      expect((await collect(directory.groupMembers('Big'))).flat().map((a) => a.id)).toEqual(['90003']);
      expect((await collect(directory.groupMembers('other'))).flat().map((a) => a.id)).toEqual(['90002']);
      expect(await directory.countGroupMembers('bigger')).toBe(2);
    });

    it('yields nothing for an unknown group', async () => {
      expect(await collect(directory.groupMembers('nobody-here', { pageSize: 10 }))).toEqual([]);
    });

    it('looks up known and unknown ids in one batch', async () => {
      const found = await directory.lookupAgents(['00001', 'nope', '00777', '90002', 'also-nope']);
      expect([...found.keys()].sort()).toEqual(['00001', '00777', '90002']);
      expect(found.get('00001')).toMatchObject({ id: '00001', groups: ['big'], status: STATUSES[1] });
      expect(found.get('00777')?.status).toBeUndefined();
      expect((await directory.lookupAgents([])).size).toBe(0);
    });

    it('looks up 1,234 ids at once', async () => {
      const ids = agents.filter((a) => a.groups.includes('big')).map((a) => a.id);
      const found = await directory.lookupAgents([...ids, 'x1', 'x2']);
      expect(found.size).toBe(1234);
      for (const id of ids) expect(found.get(id)?.id).toBe(id);
    });
  });
}
