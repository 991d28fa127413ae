/**
 * The console's calls to the command manager's API, on the page's own origin. The credentials (a Basic
 * header or a bearer token) are kept in `sessionStorage` for this tab only: gone when the tab closes, never
 * in a URL, a cookie or `localStorage`.
 */

export const API = '/_plugins/_command_manager';
const AUTH_KEY = 'command-manager.authorization';

export type Status = 'pending' | 'sent' | 'success' | 'failure';
export type Counts = Record<Status, number>;
export const STATUSES: readonly Status[] = ['pending', 'sent', 'success', 'failure'];

export interface CommandRequest {
  source: string;
  user: string;
  target: { type: string; id?: string; ids?: string[] };
  action: { name: string; args: Record<string, unknown>; version?: string };
  timeout: number;
  max_concurrency?: number;
  max_errors?: number | string;
  delivery_window_s?: number;
  membership?: 'snapshot' | 'live';
  rerun_of?: number;
}

/** A command's target in a line: `group web`, `agent 001`, or `agents (3): 001, 002, 003` (at most 5 named). */
export function describeTarget(t: CommandRequest['target']): string {
  if (t.ids === undefined) return `${t.type} ${t.id ?? ''}`;
  const named = t.ids.slice(0, 5).join(', ');
  return `${t.type} (${t.ids.length}): ${named}${t.ids.length > 5 ? ', …' : ''}`;
}

export interface RequestRecord {
  request_id: number;
  created_at: string;
  principal: string;
  command: CommandRequest;
  total_orders: number;
  unresolved: string[];
  write_state: string;
}

export interface RequestListItem {
  request: RequestRecord;
  counts: Counts;
  done: boolean;
}

export interface RequestProgress extends RequestListItem {
  progress: number;
  rollout: { stopped: boolean; errors: number };
  failures: { codes: Array<{ code: number; count: number; message: string }>; other: number };
}

export interface OrderEnvelope {
  id: string;
  order: {
    command: {
      target: { type: string; id: string };
      status: Status;
      result?: { code: number; message: string } | null;
    };
  };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function storedAuthorization(): string | undefined {
  return sessionStorage.getItem(AUTH_KEY) ?? undefined;
}

export function storeAuthorization(value: string | undefined): void {
  if (value === undefined) sessionStorage.removeItem(AUTH_KEY);
  else sessionStorage.setItem(AUTH_KEY, value);
}

/** `Basic base64(user:password)` (UTF-8), or `Bearer <token>`. */
export function authorizationOf(
  login: { kind: 'basic'; username: string; password: string } | { kind: 'token'; token: string },
): string {
  if (login.kind === 'token') return `Bearer ${login.token.trim()}`;
  const bytes = new TextEncoder().encode(`${login.username}:${login.password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

export function authHeaders(): Record<string, string> {
  const auth = storedAuthorization();
  return auth === undefined ? {} : { authorization: auth };
}

/** One API call; a non-2xx answer throws ApiError with the API's error message. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      ...authHeaders(),
      accept: 'application/json',
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await res.text();
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try {
      const parsed = JSON.parse(text) as {
        error?: { message?: string; details?: Array<{ pointer: string; message: string }> };
      };
      const details = (parsed.error?.details ?? []).map((d) => `${d.pointer}: ${d.message}`).join('; ');
      message = `${parsed.error?.message ?? message}${details ? ` (${details})` : ''}`;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, message);
  }
  return JSON.parse(text) as T;
}

/** Every order is terminal, and every order of a complete write is counted (searches lag writes). */
export function isFinished(p: RequestListItem): boolean {
  const c = p.counts;
  const counted = c.pending + c.sent + c.success + c.failure;
  return p.done && (p.request.write_state !== 'complete' || counted >= p.request.total_orders);
}
