/**
 * What the reference Management API checks in one order of `POST /accept_commands`. The order layout is
 * the one the command manager's scheduler sends (`AcceptCommandsOrder` in @command-manager/scheduler).
 */
export interface AcceptedOrder {
  document_id: string;
  request_id: number;
  order_id: number;
  source: string;
  user: string;
  target: { type: 'agent' | 'server'; id: string };
  action: { name: string; args: Record<string, unknown>; version?: string };
  /** Seconds. */
  timeout: number;
  /** ISO-8601 deadline. */
  deadline: string;
}

/** A per-order refusal, grouped by error in the answer as Wazuh's API does. */
export interface OrderError {
  code: number;
  message: string;
}

/**
 * Error codes of the answer. 1701 is Wazuh's own "Agent does not exist"; the others are this example's
 * (Wazuh has no code for them).
 */
export const OrderErrors = {
  INVALID: { code: 1000, message: 'Invalid order' },
  UNKNOWN_AGENT: { code: 1701, message: 'Agent does not exist' },
  GROUP_TARGET: {
    code: 1001,
    message:
      'Orders must target one agent or a server component (groups are expanded by the command manager)',
  },
  PAST_DEADLINE: { code: 1002, message: 'The order is past its deadline' },
  REFUSED: { code: 1003, message: 'Refused (injected failure)' },
} as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The id to report an order under: `document_id` (or `id`), or a placeholder for an order without one. */
export function orderIdOf(raw: unknown, index: number): string {
  if (isRecord(raw)) {
    const id = raw.document_id ?? raw.id;
    if (typeof id === 'string' && id.length > 0) return id;
  }
  return `#${index}`;
}

/** Checks the shape of one order; returns the order or the reason it is refused. */
export function checkOrder(raw: unknown, now: Date): { order: AcceptedOrder } | { error: OrderError } {
  if (!isRecord(raw)) return { error: { ...OrderErrors.INVALID, message: 'Invalid order: not an object' } };
  const problems: string[] = [];
  const id = raw.document_id ?? raw.id;
  if (typeof id !== 'string' || id.length === 0) problems.push('document_id');
  const target = raw.target;
  if (
    !isRecord(target) ||
    typeof target.type !== 'string' ||
    typeof target.id !== 'string' ||
    target.id === ''
  ) {
    problems.push('target');
  }
  const action = raw.action;
  if (!isRecord(action) || typeof action.name !== 'string' || action.name === '')
    problems.push('action.name');
  if (isRecord(action) && action.args !== undefined && !isRecord(action.args)) problems.push('action.args');
  if (typeof raw.timeout !== 'number' || raw.timeout <= 0) problems.push('timeout');
  if (
    raw.deadline !== undefined &&
    (typeof raw.deadline !== 'string' || Number.isNaN(Date.parse(raw.deadline)))
  ) {
    problems.push('deadline');
  }
  if (problems.length > 0) {
    return { error: { ...OrderErrors.INVALID, message: `Invalid order: bad ${problems.join(', ')}` } };
  }
  const t = target as { type: string; id: string };
  if (t.type === 'group') return { error: OrderErrors.GROUP_TARGET };
  if (t.type !== 'agent' && t.type !== 'server') {
    return { error: { ...OrderErrors.INVALID, message: `Invalid order: unknown target type "${t.type}"` } };
  }
  if (typeof raw.deadline === 'string' && Date.parse(raw.deadline) <= now.getTime()) {
    return { error: OrderErrors.PAST_DEADLINE };
  }
  const a = action as { name: string; args?: Record<string, unknown>; version?: unknown };
  return {
    order: {
      document_id: id as string,
      request_id: typeof raw.request_id === 'number' ? raw.request_id : 0,
      order_id: typeof raw.order_id === 'number' ? raw.order_id : 0,
      source: typeof raw.source === 'string' ? raw.source : '',
      user: typeof raw.user === 'string' ? raw.user : '',
      target: { type: t.type, id: t.id },
      action: {
        name: a.name,
        args: a.args ?? {},
        ...(typeof a.version === 'string' ? { version: a.version } : {}),
      },
      timeout: raw.timeout as number,
      deadline:
        typeof raw.deadline === 'string'
          ? raw.deadline
          : new Date(now.getTime() + (raw.timeout as number) * 1000).toISOString(),
    },
  };
}
