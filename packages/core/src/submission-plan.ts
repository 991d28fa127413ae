/**
 * Dry runs and the plan they are held to. `planSubmission` resolves a validated submission exactly as the
 * write would (the same planning, refusals and order stream: `expandOrders`), writes nothing, and answers
 * per command the orders it would create, a sample of their targets, what did not resolve and what
 * eligibility left out, with a `plan_token` (plan-token.ts). `checkPlan` resolves the submission again
 * right before it is written: a token whose sets differ from the current ones is refused with
 * PLAN_CHANGED, naming per command how many destinations were added and removed, and some added ones.
 *
 * The check and the write are two walks of the directory: an agent that joins the group between them gets
 * an order the plan did not show. The window is the time between the two walks (milliseconds for small
 * groups); the written record's `total_orders` always says what was written.
 */
import { CommandManagerError, ErrorCodes } from './errors';
import type { ErrorDetail } from './errors';
import { hasEligibility } from './eligibility';
import { expandOrders, noTargetResolved, planExpansion } from './expansion';
import type { ExpansionPlan } from './expansion';
import type { CommandRequest } from './model';
import {
  decodePlanToken,
  destinationHash,
  encodePlanToken,
  planTokenMatches,
  ResolvedSet,
  setChange,
} from './plan-token';
import type { Summary } from './plan-token';
import type { AgentDirectory } from './ports';
import { checkRequestWrite } from './write-bounds';
import type { WriteBounds } from './write-bounds';

/** Targets listed per command in a dry run's answer, and added targets named in a PLAN_CHANGED error. */
export const PLAN_SAMPLE_SIZE = 10;

export interface PlannedCommand {
  /** Orders the command would create now. */
  orders: number;
  /** The first targets, in order-id order (`agent:<id>`, `server:<id>`); at most PLAN_SAMPLE_SIZE. */
  sample: string[];
  /** Targets that resolve to no destination (unknown agents, empty groups). */
  unresolved: string[];
  /** Present when the command has eligibility keys (eligibility.ts). */
  excluded?: number;
  ineligible?: number;
}

export interface SubmissionPlan {
  /** Pass it back as `Plan-Token` to send this body only if it still resolves to the same targets. */
  plan_token: string;
  commands: PlannedCommand[];
}

export interface PlanDeps {
  agents: AgentDirectory;
  maxFanOut: number;
  bounds: WriteBounds;
}

/** The dry run of validated, authorised commands; `fingerprint` identifies the caller and the body. */
export async function planSubmission(
  deps: PlanDeps,
  commands: readonly CommandRequest[],
  fingerprint: string,
): Promise<SubmissionPlan> {
  const plans = await resolvePlans(deps, commands);
  const summaries: Summary[] = [];
  const planned: PlannedCommand[] = [];
  for (const plan of plans) {
    const sample: string[] = [];
    const summary = await summarise(deps, plan, (d) => {
      if (sample.length < PLAN_SAMPLE_SIZE) sample.push(d);
    });
    summaries.push(summary);
    const answer: PlannedCommand = { orders: summary.count, sample, unresolved: plan.unresolved };
    if (hasEligibility(plan.command)) {
      answer.excluded = plan.excluded;
      answer.ineligible = plan.ineligible;
    }
    planned.push(answer);
  }
  return { plan_token: encodePlanToken(fingerprint, summaries), commands: planned };
}

/** PLAN_CHANGED unless the commands resolve now to the sets `token` was made for. */
export async function checkPlan(
  deps: PlanDeps,
  commands: readonly CommandRequest[],
  fingerprint: string,
  token: string,
): Promise<void> {
  const then = decodePlanToken(token, commands.length);
  const plans = await resolvePlans(deps, commands);
  const now: Summary[] = [];
  for (const plan of plans) now.push(await summarise(deps, plan));
  if (planTokenMatches(token, fingerprint, now)) return;

  const details: ErrorDetail[] = [];
  for (const [i, plan] of plans.entries()) {
    const change = setChange(then[i] as Summary, now[i] as Summary);
    if (!change) continue;
    const wanted = new Set(change.addedHashes.map((h) => h.toString('hex')));
    const named: string[] = [];
    if (wanted.size > 0) {
      await summarise(deps, plan, (d) => {
        if (named.length < PLAN_SAMPLE_SIZE && wanted.has(destinationHash(d).toString('hex'))) named.push(d);
      });
    }
    const sample = named.length > 0 ? `; added: ${named.join(', ')}` : '';
    details.push({
      pointer: `/commands/${i}/target`,
      message: `planned ${(then[i] as Summary).count} order(s), now ${(now[i] as Summary).count}: ${change.added} target(s) added, ${change.removed} removed${sample}`,
    });
  }
  if (details.length === 0) {
    details.push({
      pointer: '/headers/plan-token',
      message: 'was made for another body or another caller',
    });
  }
  throw new CommandManagerError(
    ErrorCodes.PLAN_CHANGED,
    'the submission no longer resolves to the targets of its plan; nothing was written',
    { details },
  );
}

/** What the write plans before anything is written, with the same refusals. */
async function resolvePlans(deps: PlanDeps, commands: readonly CommandRequest[]): Promise<ExpansionPlan[]> {
  const plans = await planExpansion(commands, { agents: deps.agents, maxFanOut: deps.maxFanOut });
  checkRequestWrite(plans, deps.bounds.maxRequestWriteBytes);
  if (plans.every((p) => p.count === 0)) throw noTargetResolved(plans);
  return plans;
}

/** Walks the orders the write would stream for `plan` (ids and times do not matter here). */
async function summarise(
  deps: PlanDeps,
  plan: ExpansionPlan,
  each?: (destination: string) => void,
): Promise<Summary> {
  const set = new ResolvedSet();
  if (plan.count > 0) {
    const options = {
      agents: deps.agents,
      requestId: 0,
      principal: '',
      now: new Date(0),
      maxFanOut: deps.maxFanOut,
    };
    for await (const order of expandOrders(plan, options)) {
      const { type, id } = order.command.target;
      const destination = `${type}:${id}`;
      set.add(destination);
      each?.(destination);
    }
  }
  return set.finish();
}
