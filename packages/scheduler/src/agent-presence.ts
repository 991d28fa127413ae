/**
 * Whether agents are online, as the agents index says (`agent.status`), for the deadline sweep's verdicts
 * (core's `deadline-rule.ts`). An agent whose status is one of the offline statuses (default Wazuh's
 * `disconnected` and `never_connected`) is offline; any other status, or none, is online; an agent the index
 * does not know is `unknown`. One `lookupAgents` per call (the directory batches it).
 */
import { DEFAULT_OFFLINE_AGENT_STATUSES } from '@command-manager/core';
import type { AgentDirectory, AgentPresence } from '@command-manager/core';

/** Tells the deadline sweep which agents are online. */
export interface AgentPresenceSource {
  presence(agentIds: readonly string[]): Promise<Map<string, AgentPresence>>;
}

export class AgentDirectoryPresence implements AgentPresenceSource {
  private readonly offline: ReadonlySet<string>;

  constructor(
    private readonly agents: Pick<AgentDirectory, 'lookupAgents'>,
    offlineStatuses: readonly string[] = DEFAULT_OFFLINE_AGENT_STATUSES,
  ) {
    this.offline = new Set(offlineStatuses);
  }

  async presence(agentIds: readonly string[]): Promise<Map<string, AgentPresence>> {
    const unique = [...new Set(agentIds)];
    const found = unique.length > 0 ? await this.agents.lookupAgents(unique) : new Map();
    const result = new Map<string, AgentPresence>();
    for (const id of unique) {
      const agent = found.get(id);
      if (!agent) result.set(id, 'unknown');
      else
        result.set(id, agent.status !== undefined && this.offline.has(agent.status) ? 'offline' : 'online');
    }
    return result;
  }
}
