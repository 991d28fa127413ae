/**
 * Expansion: a validated command request becomes orders, one per final destination, as an async stream.
 *
 * - `group` → one order per member agent, read page by page from the AgentDirectory (never all at once), so
 *   a 100,000-agent group expands with bounded memory. No cap but the configured maximum fan-out, which is
 *   checked (countGroupMembers) before anything is written.
 * - `agent` → one order, after the agent is looked up; an unknown agent is reported in `unresolved`.
 * - `server` → one order.
 *
 * Order ids are 1..N within their request, in expansion order (group members in the directory's stable
 * order, by agent id). Expansion is two steps so that a whole submission is checked before any write:
 * `planExpansion` (counts, lookups, fan-out) for all commands, then `expandOrders` per command.
 */
import { CommandManagerError, ErrorCodes } from './errors';
import type { ErrorDetail } from './errors';
import { newOrder } from './lifecycle';
import type { CommandRequest, Order } from './model';
import type { AgentDirectory, AgentInfo, GroupQuery } from './ports';

export interface ExpansionPlan {
  command: CommandRequest;
  /** Orders the command expands to, as counted now (a group may change before it is streamed). */
  count: number;
  /** Targets that resolved to no destination: `agent:<id>` (unknown agent), `group:<name>` (empty group). */
  unresolved: string[];
  /** For an `agent` target: the agent as looked up. */
  agent?: AgentInfo;
}

export interface PlanOptions {
  agents: AgentDirectory;
  /** Most orders the commands may expand to, each and all together (FANOUT_EXCEEDED beyond). */
  maxFanOut: number;
  /** Which group members count (page size, agent statuses). */
  groupQuery?: GroupQuery;
  /** JSON pointer of command `i` in the submitted body, for error details. Default `/commands/<i>`. */
  pointerOf?: (index: number) => string;
}

/**
 * Plans the expansion of every command of a submission: one `lookupAgents` for all agent targets of the
 * submission, one `countGroupMembers` per group. Throws FANOUT_EXCEEDED, naming every command over the
 * limit, before anything is written.
 */
export async function planExpansion(
  commands: readonly CommandRequest[],
  options: PlanOptions,
): Promise<ExpansionPlan[]> {
  const pointerOf = options.pointerOf ?? ((i: number) => `/commands/${i}`);
  const agentIds = [...new Set(commands.filter((c) => c.target.type === 'agent').map((c) => c.target.id))];
  const known =
    agentIds.length > 0 ? await options.agents.lookupAgents(agentIds) : new Map<string, AgentInfo>();

  const counts = await Promise.all(
    commands.map((c) =>
      c.target.type === 'group'
        ? options.agents.countGroupMembers(c.target.id, options.groupQuery)
        : Promise.resolve(0),
    ),
  );

  const tooLarge: ErrorDetail[] = [];
  const plans = commands.map((command, i): ExpansionPlan => {
    const { type, id } = command.target;
    if (type === 'server') return { command, count: 1, unresolved: [] };
    if (type === 'agent') {
      const agent = known.get(id);
      return agent
        ? { command, count: 1, unresolved: [], agent }
        : { command, count: 0, unresolved: [`agent:${id}`] };
    }
    const count = counts[i] ?? 0;
    if (count > options.maxFanOut) {
      tooLarge.push({
        pointer: `${pointerOf(i)}/target/id`,
        message: `group "${id}" has ${count} agents, more than the maximum fan-out of ${options.maxFanOut}`,
      });
    }
    return { command, count, unresolved: count === 0 ? [`group:${id}`] : [] };
  });
  if (tooLarge.length > 0) {
    throw new CommandManagerError(
      ErrorCodes.FANOUT_EXCEEDED,
      `a command expands to more than ${options.maxFanOut} orders; nothing was written`,
      { details: tooLarge },
    );
  }
  // The bound is on the whole submission: many commands each under it must not add up past it.
  const total = plans.reduce((sum, p) => sum + p.count, 0);
  if (total > options.maxFanOut) {
    throw new CommandManagerError(
      ErrorCodes.FANOUT_EXCEEDED,
      `the submission expands to ${total} orders, more than the maximum fan-out of ${options.maxFanOut}; nothing was written`,
      {
        details: [
          {
            pointer: pointerOf(0).replace(/\/\d+$/, ''),
            message: `expands to ${total} orders in all, more than ${options.maxFanOut}`,
          },
        ],
      },
    );
  }
  return plans;
}

export interface ExpandOptions {
  agents: AgentDirectory;
  requestId: number;
  /** The authenticated principal (stored on every order). */
  principal: string;
  /** `@timestamp` of every order of the request. */
  now: Date;
  /** If the group grew past this while streaming, the stream fails with FANOUT_EXCEEDED. */
  maxFanOut?: number;
  groupQuery?: GroupQuery;
}

/** Streams the orders of one planned command, with order ids 1..N. */
export async function* expandOrders(plan: ExpansionPlan, options: ExpandOptions): AsyncGenerator<Order> {
  const { command } = plan;
  const base = { command, requestId: options.requestId, principal: options.principal, now: options.now };
  switch (command.target.type) {
    case 'server':
      yield newOrder({ ...base, orderId: 1, target: command.target, groups: [] });
      return;
    case 'agent':
      if (plan.agent) {
        yield newOrder({ ...base, orderId: 1, target: command.target, groups: plan.agent.groups });
      }
      return;
    case 'group': {
      const group = command.target.id;
      const max = options.maxFanOut ?? Number.POSITIVE_INFINITY;
      let orderId = 0;
      for await (const page of options.agents.groupMembers(group, options.groupQuery)) {
        for (const agent of page) {
          orderId += 1;
          if (orderId > max) {
            // The group grew between the count and the stream: stop rather than exceed the limit silently.
            throw new CommandManagerError(
              ErrorCodes.FANOUT_EXCEEDED,
              `group "${group}" grew past the maximum fan-out of ${max} while its orders were written`,
            );
          }
          yield newOrder({
            ...base,
            orderId,
            target: { type: 'agent', id: agent.id },
            groups: agent.groups.length > 0 ? agent.groups : [group],
          });
        }
      }
      return;
    }
  }
}

/**
 * Plans and streams one command (for embedding and benchmarks): throws FANOUT_EXCEEDED or NO_TARGET_RESOLVED
 * before yielding anything.
 */
export async function* expandCommand(
  command: CommandRequest,
  options: ExpandOptions & { maxFanOut: number },
): AsyncGenerator<Order> {
  const [plan] = await planExpansion([command], {
    agents: options.agents,
    maxFanOut: options.maxFanOut,
    groupQuery: options.groupQuery,
    pointerOf: () => '',
  });
  if (!plan || plan.count === 0) {
    throw new CommandManagerError(
      ErrorCodes.NO_TARGET_RESOLVED,
      `target ${command.target.type} "${command.target.id}" resolves to no destination`,
      {
        details: [
          {
            pointer: '/target/id',
            message: `${command.target.type} "${command.target.id}" resolves to no agent`,
          },
        ],
      },
    );
  }
  yield* expandOrders(plan, options);
}
