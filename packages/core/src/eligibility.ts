/**
 * Eligibility: which agents of a command's agent or group target get an order. `agent_status` keeps only
 * agents whose `agent.status` is in the set; `exclude_agents` leaves listed ids out. The agents left out are
 * counted (`excluded` first: an excluded agent is never also counted as ineligible), so that an answer
 * always adds up: orders + excluded + ineligible = the target's agents.
 */
import type { CommandRequest } from './model';
import type { AgentDirectory, AgentInfo, GroupQuery } from './ports';

export interface EligibilityCounts {
  excluded: number;
  ineligible: number;
}

/** Whether the command restricts its agents at all (then its answer carries the counts). */
export function hasEligibility(command: CommandRequest): boolean {
  return command.agent_status !== undefined || command.exclude_agents !== undefined;
}

/** The directory query of the command's eligible group members. */
export function eligibleQuery(command: CommandRequest, base: GroupQuery = {}): GroupQuery {
  const query: GroupQuery = { ...base };
  if (command.agent_status !== undefined) query.statuses = command.agent_status;
  if (command.exclude_agents !== undefined && command.exclude_agents.length > 0) {
    query.excludeIds = command.exclude_agents;
  }
  return query;
}

/** What becomes of one agent of the target. */
export function agentVerdict(
  command: CommandRequest,
  agent: AgentInfo,
): 'eligible' | 'excluded' | 'ineligible' {
  if (command.exclude_agents?.includes(agent.id)) return 'excluded';
  const statuses = command.agent_status;
  if (statuses !== undefined && (agent.status === undefined || !statuses.includes(agent.status))) {
    return 'ineligible';
  }
  return 'eligible';
}

/**
 * The counts of a group command whose eligible members are `eligible`: `excluded` are the listed ids that
 * are members (looked up in `known`, which holds every excluded id the directory knows), `ineligible` the
 * other members left out by status (all members counted once more, only when `agent_status` is set).
 */
export async function groupEligibility(
  agents: AgentDirectory,
  command: CommandRequest,
  eligible: number,
  known: ReadonlyMap<string, AgentInfo>,
  base: GroupQuery = {},
): Promise<EligibilityCounts> {
  if (command.target.type !== 'group') return { excluded: 0, ineligible: 0 };
  const group = command.target.id;
  let excluded = 0;
  for (const id of command.exclude_agents ?? []) {
    if (known.get(id)?.groups.includes(group)) excluded++;
  }
  if (command.agent_status === undefined) return { excluded, ineligible: 0 };
  const { statuses: _statuses, excludeIds: _excludeIds, ...all } = base;
  const members = await agents.countGroupMembers(group, all);
  return { excluded, ineligible: Math.max(0, members - excluded - eligible) };
}
