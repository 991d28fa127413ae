/**
 * Expansion: a validated command request becomes orders, one per final destination, as an async stream.
 *
 * - `group` → one order per member agent, read page by page from the AgentDirectory (never all at once), so
 *   a 100,000-agent group expands with bounded memory. No cap but the configured maximum fan-out, which is
 *   checked (countGroupMembers) before anything is written.
 * - `agent` → one order, after the agent is looked up; an unknown agent is reported in `unresolved`.
 * - `agents` → one order per known agent, in the order listed (one lookup); unknown ids in `unresolved`.
 * - eligibility (`agent_status`, `exclude_agents`: eligibility.ts) narrows agent and group targets; the
 *   agents left out are counted in the plan (`excluded`, `ineligible`).
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
import { agentVerdict, eligibleQuery, groupEligibility, hasEligibility } from './eligibility';

export interface ExpansionPlan {
  command: CommandRequest;
  /** Orders the command expands to, as counted now (a group may change before it is streamed). */
  count: number;
  /** Targets that resolved to no destination: `agent:<id>` (unknown agent), `group:<name>` (empty group). */
  unresolved: string[];
  /** For an `agent` or `agents` target: the eligible agents as looked up, in the order listed. */
  agents?: AgentInfo[];
  /** Agents of the target left out by `exclude_agents` / `agent_status` (eligibility.ts). */
  excluded: number;
  ineligible: number;
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
  // One lookup for every agent target and every excluded id of the submission.
  const lookup = new Set<string>();
  for (const c of commands) {
    if (c.target.type === 'agent') lookup.add(c.target.id);
    if (c.target.type === 'agents') for (const id of c.target.ids) lookup.add(id);
    if (c.target.type === 'group') for (const id of c.exclude_agents ?? []) lookup.add(id);
  }
  const known =
    lookup.size > 0 ? await options.agents.lookupAgents([...lookup]) : new Map<string, AgentInfo>();

  const counts = await Promise.all(
    commands.map(async (c) => {
      if (c.target.type !== 'group') return { count: 0, excluded: 0, ineligible: 0 };
      const count = await options.agents.countGroupMembers(c.target.id, eligibleQuery(c, options.groupQuery));
      const left = hasEligibility(c)
        ? await groupEligibility(options.agents, c, count, known, options.groupQuery)
        : { excluded: 0, ineligible: 0 };
      return { count, ...left };
    }),
  );

  const tooLarge: ErrorDetail[] = [];
  const plans = commands.map((command, i): ExpansionPlan => {
    const target = command.target;
    const none = { excluded: 0, ineligible: 0 };
    if (target.type === 'server') return { command, count: 1, unresolved: [], ...none };
    if (target.type === 'agent') return listedAgentsPlan(command, [target.id], known);
    if (target.type === 'agents') return listedAgentsPlan(command, target.ids, known);
    const id = target.id;
    const { count, excluded, ineligible } = counts[i] ?? { count: 0, ...none };
    if (count > options.maxFanOut) {
      tooLarge.push({
        pointer: `${pointerOf(i)}/target/id`,
        message: `group "${id}" has ${count} agents, more than the maximum fan-out of ${options.maxFanOut}`,
      });
    }
    const empty = count + excluded + ineligible === 0;
    return { command, count, unresolved: empty ? [`group:${id}`] : [], excluded, ineligible };
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

/** The plan of listed agents (one for an `agent` target): unknown ones unresolved, the others sorted out. */
function listedAgentsPlan(
  command: CommandRequest,
  ids: readonly string[],
  known: ReadonlyMap<string, AgentInfo>,
): ExpansionPlan {
  const plan: ExpansionPlan = { command, count: 0, unresolved: [], agents: [], excluded: 0, ineligible: 0 };
  for (const id of ids) {
    const agent = known.get(id);
    if (!agent) {
      plan.unresolved.push(`agent:${id}`);
      continue;
    }
    const verdict = agentVerdict(command, agent);
    if (verdict === 'eligible') plan.agents?.push(agent);
    else plan[verdict]++;
  }
  plan.count = plan.agents?.length ?? 0;
  return plan;
}

/** How a target reads in a message: `agent "001"`, `group "web"`, `agents (3 ids)`. */
export function describeTarget(target: CommandRequest['target']): string {
  return target.type === 'agents' ? `agents (${target.ids.length} ids)` : `${target.type} "${target.id}"`;
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
  /** Partitions of the orders stream (default `DEFAULT_PARTITIONS`). */
  partitions?: number;
  /**
   * Called as each order is handed to the consumer (before it is yielded), e.g. to count what a failed write
   * had produced, without another async generator around this one (a promise and its microtasks per order).
   */
  onOrder?: () => void;
}

/** Streams the orders of one planned command, with order ids 1..N. */
export async function* expandOrders(plan: ExpansionPlan, options: ExpandOptions): AsyncGenerator<Order> {
  const { command } = plan;
  const base = {
    command,
    requestId: options.requestId,
    principal: options.principal,
    now: options.now,
    ...(options.partitions !== undefined && { partitions: options.partitions }),
  };
  const onOrder = options.onOrder;
  switch (command.target.type) {
    case 'server':
      onOrder?.();
      yield newOrder({ ...base, orderId: 1, target: command.target, groups: [] });
      return;
    case 'agent':
    case 'agents': {
      let orderId = 0;
      for (const agent of plan.agents ?? []) {
        orderId += 1;
        onOrder?.();
        yield newOrder({ ...base, orderId, target: { type: 'agent', id: agent.id }, groups: agent.groups });
      }
      return;
    }
    case 'group': {
      const group = command.target.id;
      const max = options.maxFanOut ?? Number.POSITIVE_INFINITY;
      let orderId = 0;
      for await (const page of options.agents.groupMembers(
        group,
        eligibleQuery(command, options.groupQuery),
      )) {
        for (const agent of page) {
          orderId += 1;
          if (orderId > max) {
            // The group grew between the count and the stream: stop rather than exceed the limit silently.
            throw new CommandManagerError(
              ErrorCodes.FANOUT_EXCEEDED,
              `group "${group}" grew past the maximum fan-out of ${max} while its orders were written`,
            );
          }
          onOrder?.();
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
      `target ${describeTarget(command.target)} resolves to no destination`,
      {
        details: [
          {
            pointer: command.target.type === 'agents' ? '/target/ids' : '/target/id',
            message: `${describeTarget(command.target)} resolves to no agent`,
          },
        ],
      },
    );
  }
  yield* expandOrders(plan, options);
}

/** Every command resolved to nothing (unknown agents, empty groups): the submission writes nothing. */
export function noTargetResolved(plans: readonly ExpansionPlan[]): CommandManagerError {
  return new CommandManagerError(
    ErrorCodes.NO_TARGET_RESOLVED,
    'no target of the submission resolves to a destination; nothing was written',
    {
      details: plans.map((p, i) => {
        const target = p.command.target;
        const leftOut = p.excluded + p.ineligible;
        const unknown = p.unresolved.length;
        return {
          pointer: `/commands/${i}/target/${target.type === 'agents' ? 'ids' : 'id'}`,
          message:
            leftOut > 0
              ? `every agent of ${describeTarget(target)} is left out (${unknown > 0 ? `${unknown} unknown, ` : ''}${p.excluded} excluded, ${p.ineligible} ineligible)`
              : target.type === 'agents'
                ? `none of the ${target.ids.length} agents is known`
                : target.type === 'agent'
                  ? `unknown agent "${target.id}"`
                  : `group "${target.id}" has no agents`,
        };
      }),
    },
  );
}
