import type { AgentDirectory, AgentInfo, GroupQuery } from '../ports';
import { clone } from './internal/clone';

/** Members per page when the caller does not say. */
export const DEFAULT_AGENT_PAGE_SIZE = 1000;
/** Upper bound on a page (the size bound of one OpenSearch search response). */
export const MAX_AGENT_PAGE_SIZE = 10_000;

/**
 * The in-memory twin of the agent directory, for tests and embedding. Same contract as the OpenSearch
 * adapter over `wazuh-agents` (`test/contract/agent-directory-contract.ts`): members come page by page,
 * sorted by agent id in code-unit order (the order of an OpenSearch `keyword` sort for ASCII ids), never
 * an empty page; `pageSize` is clamped to 1..10,000.
 */
export class InMemoryAgentDirectory implements AgentDirectory {
  private readonly agents = new Map<string, AgentInfo>();
  /** Sorted ids per group, built on demand and dropped when agents change. */
  private sortedByGroup = new Map<string, string[]>();

  constructor(agents: Iterable<AgentInfo> = []) {
    this.addAgents(agents);
  }

  /** Adds or replaces an agent (by id). */
  addAgent(agent: AgentInfo): void {
    this.agents.set(agent.id, clone(agent));
    this.sortedByGroup = new Map();
  }

  addAgents(agents: Iterable<AgentInfo>): void {
    for (const agent of agents) this.agents.set(agent.id, clone(agent));
    this.sortedByGroup = new Map();
  }

  async *groupMembers(group: string, query: GroupQuery = {}): AsyncIterable<AgentInfo[]> {
    const pageSize = clampPageSize(query.pageSize);
    const statuses = query.statuses && new Set(query.statuses);
    const excluded = new Set(query.excludeIds);
    const ids = this.membersOf(group);
    let page: AgentInfo[] = [];
    for (const id of ids) {
      const agent = this.agents.get(id);
      // The directory may change between pages (as the real index does); skip what left the group.
      if (!agent || !agent.groups.includes(group) || !matchesStatus(agent, statuses)) continue;
      if (excluded.has(id)) continue;
      page.push(clone(agent));
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  async countGroupMembers(group: string, query: GroupQuery = {}): Promise<number> {
    const statuses = query.statuses && new Set(query.statuses);
    const excluded = new Set(query.excludeIds);
    let n = 0;
    for (const id of this.membersOf(group)) {
      const agent = this.agents.get(id);
      if (agent && matchesStatus(agent, statuses) && !excluded.has(id)) n++;
    }
    return n;
  }

  async lookupAgents(ids: readonly string[]): Promise<Map<string, AgentInfo>> {
    const found = new Map<string, AgentInfo>();
    for (const id of ids) {
      const agent = this.agents.get(id);
      if (agent) found.set(id, clone(agent));
    }
    return found;
  }

  private membersOf(group: string): string[] {
    let ids = this.sortedByGroup.get(group);
    if (!ids) {
      ids = [];
      for (const agent of this.agents.values()) if (agent.groups.includes(group)) ids.push(agent.id);
      ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      this.sortedByGroup.set(group, ids);
    }
    return ids;
  }
}

function clampPageSize(pageSize: number | undefined): number {
  if (pageSize === undefined || !Number.isFinite(pageSize)) return DEFAULT_AGENT_PAGE_SIZE;
  return Math.min(MAX_AGENT_PAGE_SIZE, Math.max(1, Math.floor(pageSize)));
}

function matchesStatus(agent: AgentInfo, statuses: ReadonlySet<string> | undefined): boolean {
  return statuses === undefined || (agent.status !== undefined && statuses.has(agent.status));
}
