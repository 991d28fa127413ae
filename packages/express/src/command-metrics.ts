import { Counter, type Registry } from 'prom-client';
import {
  SOURCES,
  TARGET_TYPES,
  isBareCommand,
  type ResultOutcome,
  type SubmitResult,
} from '@command-manager/core';
import { AGENT_ACTIONS, CONTENT_ACTIONS } from './auth/roles';

/**
 * Counters of what the API was asked to do, by source, action and target type. Every label takes values from
 * a closed set, so a caller cannot grow the number of series: sources from the schema, actions the sidecar's
 * action registry knows, target types from the schema, and `other` for anything else (an action accepted by
 * a permissive registry, say). Request and order ids are never labels: one request's progress is read from
 * the API (`GET …/requests/:id`).
 */
export interface CommandMetrics {
  /** An accepted submission: the body as sent (validated by then) and the answer, command by command. */
  submitted(body: unknown, result: SubmitResult): void;
  /** Result reports by outcome, and by the order's status where the outcome has one. */
  resultsReported(outcomes: readonly ResultOutcome[]): void;
  /** Orders failed by a cancel. */
  ordersCancelled(count: number): void;
}

export const OTHER_LABEL = 'other';

export interface CommandMetricsOptions {
  /** Action names that are their own label value (the action registry's names); default: the built-in actions. */
  actions?: readonly string[];
}

export function createCommandMetrics(
  registry: Registry,
  options: CommandMetricsOptions = {},
): CommandMetrics {
  const actions = new Set(options.actions ?? [...AGENT_ACTIONS, ...CONTENT_ACTIONS]);
  const commandLabels = ['source', 'action', 'target_type'] as const;
  const requests = new Counter({
    name: 'command_manager_requests_submitted_total',
    help: 'Command requests stored (one per command of an accepted submission), by source, action and target type',
    labelNames: commandLabels,
    registers: [registry],
  });
  const orders = new Counter({
    name: 'command_manager_orders_submitted_total',
    help: 'Orders written for accepted command requests, by source, action and target type',
    labelNames: commandLabels,
    registers: [registry],
  });
  const unresolved = new Counter({
    name: 'command_manager_targets_unresolved_total',
    help: 'Targets of accepted command requests that resolved to no agent, by source',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const results = new Counter({
    name: 'command_manager_result_reports_total',
    help: 'Result reports by outcome (applied, conflict, unknown, invalid, error) and the order status they left or found',
    labelNames: ['outcome', 'status'] as const,
    registers: [registry],
  });
  const cancelled = new Counter({
    name: 'command_manager_orders_cancelled_total',
    help: 'Pending orders failed by a cancel',
    registers: [registry],
  });
  return {
    submitted(body, result) {
      const sent = commandsOf(body);
      result.commands.forEach((answer, i) => {
        const labels = commandLabelValues(sent[i], actions);
        requests.inc(labels);
        if (answer.orders > 0) orders.inc(labels, answer.orders);
        if (answer.unresolved.length > 0) unresolved.inc({ source: labels.source }, answer.unresolved.length);
      });
    },
    resultsReported(outcomes) {
      for (const o of outcomes)
        results.inc({ outcome: o.outcome, status: 'status' in o ? o.status : 'none' });
    },
    ordersCancelled(count) {
      if (count > 0) cancelled.inc(count);
    },
  };
}

function commandsOf(body: unknown): unknown[] {
  if (isBareCommand(body)) return [body];
  const commands = (body as { commands?: unknown } | null)?.commands;
  return Array.isArray(commands) ? commands : [];
}

/** The label values of one command as sent: each known value as itself (sources in their canonical case), else `other`. */
export function commandLabelValues(
  command: unknown,
  actions: ReadonlySet<string>,
): { source: string; action: string; target_type: string } {
  const c = (typeof command === 'object' && command !== null ? command : {}) as {
    source?: unknown;
    action?: { name?: unknown };
    target?: { type?: unknown };
  };
  const source =
    typeof c.source === 'string'
      ? SOURCES.find((s) => s.toLowerCase() === (c.source as string).toLowerCase())
      : undefined;
  const action = c.action?.name;
  const targetType = c.target?.type;
  return {
    source: source ?? OTHER_LABEL,
    action: typeof action === 'string' && actions.has(action) ? action : OTHER_LABEL,
    target_type:
      typeof targetType === 'string' && (TARGET_TYPES as readonly string[]).includes(targetType)
        ? targetType
        : OTHER_LABEL,
  };
}
