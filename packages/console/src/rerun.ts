import type { Target } from '@command-manager/core';
import { API, call, type CommandRequest, type OrderEnvelope, type RequestRecord } from './api.js';

/** Most failed targets one click re-runs (the rest are named in the answer, for a second click). */
export const MAX_RERUN_TARGETS = 1000;
/** Commands per submission: the API's default `limits.maxBatchCommands`. */
const COMMANDS_PER_SUBMISSION = 100;
/** Agent ids in one `agents` target: the API's default `limits.maxTargetAgents`. */
const AGENTS_PER_COMMAND = 1000;

export interface RerunResult {
  requestIds: number[];
  targets: number;
  /** More failed targets than MAX_RERUN_TARGETS: the others were not re-run. */
  truncated: boolean;
}

/**
 * Re-runs only the failed targets of a request: reads its `failure` orders (`GET …/orders`, paged), and
 * submits the parent's command again (without `membership`) with `rerun_of` naming the parent, so the new
 * request links back to it.
 * The failed agents go in one `agents` target (one request, one order per agent, up to 1,000 agents a
 * command); any other target (a server) gets a command of its own. Commands go in submissions of at most 100.
 */
export async function rerunFailed(parent: RequestRecord): Promise<RerunResult> {
  const targets = new Map<string, Target>();
  let cursor: string | undefined;
  let truncated = false;
  do {
    const query = new URLSearchParams({
      request_id: String(parent.request_id),
      status: 'failure',
      size: '1000',
      ...(cursor !== undefined && { cursor }),
    });
    const page = await call<{ orders: OrderEnvelope[]; cursor?: string }>(
      'GET',
      `${API}/orders?${query.toString()}`,
    );
    for (const o of page.orders) {
      const t = o.order.command.target;
      if (targets.size >= MAX_RERUN_TARGETS && !targets.has(`${t.type}:${t.id}`)) truncated = true;
      else targets.set(`${t.type}:${t.id}`, { type: t.type, id: t.id });
    }
    cursor = page.cursor;
  } while (cursor !== undefined && !truncated);

  // A re-run targets the failed agents themselves: a live parent's membership does not carry over (it
  // applies to groups only); its delivery window does.
  const { rerun_of: _previous, membership: _membership, ...base } = parent.command;
  const all = [...targets.values()];
  const agentIds = all.filter((t) => t.type === 'agent').map((t) => t.id);
  const commands: CommandRequest[] = [];
  for (let i = 0; i < agentIds.length; i += AGENTS_PER_COMMAND) {
    const ids = agentIds.slice(i, i + AGENTS_PER_COMMAND);
    commands.push({ ...base, target: { type: 'agents', ids }, rerun_of: parent.request_id });
  }
  for (const target of all.filter((t) => t.type !== 'agent')) {
    commands.push({ ...base, target, rerun_of: parent.request_id });
  }
  const requestIds: number[] = [];
  for (let i = 0; i < commands.length; i += COMMANDS_PER_SUBMISSION) {
    const answer = await call<{ commands: Array<{ request_id: number }> }>(
      'POST',
      `${API}/commands?summary=true`,
      {
        commands: commands.slice(i, i + COMMANDS_PER_SUBMISSION),
      },
    );
    requestIds.push(...answer.commands.map((c) => c.request_id));
  }
  return { requestIds, targets: all.length, truncated };
}
