import {
  CommandManagerError,
  ErrorCodes,
  ORDER_STATUSES,
  SOURCES,
  TARGET_TYPES,
  isPageCursorShaped,
  parseOrderDocumentId,
  type ErrorDetail,
  type OrderFilter,
  type OrderStatus,
  type PageRequest,
  type Source,
  type TargetType,
} from '@command-manager/core';
import { readQuery } from './query-reader';

/**
 * Parsing of what is not a JSON body: path and query parameters, headers. Bad values are named by a pointer
 * into a virtual document `{"params":…, "query":…, "headers":…}` (`/query/size`), so that the one error shape
 * (`details[].pointer`) serves them too.
 */
function invalid(details: ErrorDetail[]): CommandManagerError {
  const first = details
    .slice(0, 3)
    .map((d) => `${d.pointer} ${d.message}`)
    .join('; ');
  return new CommandManagerError(ErrorCodes.VALIDATION_FAILED, `the request is invalid: ${first}`, {
    details,
  });
}

const REQUEST_ID = /^[0-9]{1,15}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?$/;
// Control characters are what this pattern exists to refuse (same rule as core's NO_CONTROL_CHARS_PATTERN).
// eslint-disable-next-line no-control-regex
const NO_CONTROL = /^[^\u0000-\u001F\u007F-\u009F]*$/;

export function parseRequestIdParam(value: unknown): number {
  if (typeof value !== 'string' || !REQUEST_ID.test(value) || !Number.isSafeInteger(Number(value))) {
    throw invalid([{ pointer: '/params/id', message: 'must be a request id (a non-negative integer)' }]);
  }
  return Number(value);
}

export function parseOrderIdParam(value: unknown): string {
  if (typeof value !== 'string' || !parseOrderDocumentId(value)) {
    throw invalid([{ pointer: '/params/id', message: 'must be an order id `<request_id>-<order_id>`' }]);
  }
  return value;
}

/** `Last-Event-ID` of a resumed event stream: the id of the last event the client received. */
export function parseLastEventId(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!REQUEST_ID.test(value)) {
    throw invalid([
      { pointer: '/headers/last-event-id', message: 'must be an event id (a non-negative integer)' },
    ]);
  }
  return Number(value);
}

/** Idempotency-Key: 1..255 visible ASCII characters (it is stored and compared as is). */
export function parseIdempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[\x21-\x7E]{1,255}$/.test(value)) {
    throw invalid([
      { pointer: '/headers/idempotency-key', message: 'must be 1..255 visible ASCII characters' },
    ]);
  }
  return value;
}

type Query = Record<string, unknown>;

/** A query value given once, as a string; a repeated parameter is an error. */
function single(query: Query, name: string, details: ErrorDetail[]): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    details.push({ pointer: `/query/${name}`, message: 'must be given once' });
    return undefined;
  }
  return v;
}

/**
 * Query parameters every OpenSearch REST route accepts, and so may come with a call written for the plugin
 * (`?pretty` from a terminal): accepted on the plugin-compatible submit route and ignored.
 */
const OPENSEARCH_COMMON_PARAMS = ['pretty', 'human', 'error_trace'];

/**
 * `?summary` and `?dry_run` of a submission: `true`, `false` or empty (true). Any other parameter is refused,
 * so that a misspelt `?dryRun` is a 400 rather than a real submission; every error is listed at once.
 */
export function parseSubmitQuery(query: Query): { summary: boolean; dryRun: boolean } {
  const q = readQuery(query, ['summary', 'dry_run', ...OPENSEARCH_COMMON_PARAMS]);
  const flag = (name: string): boolean => {
    const v = q.single(name);
    if (v !== undefined && v !== 'true' && v !== 'false' && v !== '') q.bad(name, 'must be true or false');
    return v === 'true' || v === '';
  };
  const summary = flag('summary');
  const dryRun = flag('dry_run');
  q.done();
  return { summary, dryRun };
}

/**
 * The `Plan-Token` header: base64url. Its length is bounded by the HTTP server's header limit here (sized
 * for the longest token: `maxHeaderSizeFor`), and by the size of a token of the submission's command count in
 * core (plan-token.ts), which names what is wrong.
 */
export function parsePlanToken(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[A-Za-z0-9_-]+$/.test(value)) {
    throw invalid([
      { pointer: '/headers/plan-token', message: 'must be the plan_token of a dry run (base64url)' },
    ]);
  }
  return value;
}

export interface ListQueryLimits {
  defaultPageSize: number;
  maxPageSize: number;
}

const LIST_PARAMS = [
  'status',
  'target_type',
  'target_id',
  'action',
  'source',
  'request_id',
  'from',
  'to',
  'size',
  'cursor',
];

/** `GET /orders` query: every bad or unknown parameter is named. */
export function parseListQuery(
  query: Query,
  limits: ListQueryLimits,
): { filter: OrderFilter; page: PageRequest } {
  const details: ErrorDetail[] = [];
  const bad = (name: string, message: string): void => {
    details.push({ pointer: `/query/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`, message });
  };
  for (const name of Object.keys(query)) {
    if (!LIST_PARAMS.includes(name)) bad(name, `unknown parameter (allowed: ${LIST_PARAMS.join(', ')})`);
  }
  const filter: OrderFilter = {};

  const status = single(query, 'status', details);
  if (status !== undefined) {
    const values = status.split(',');
    const wrong = values.filter((s) => !ORDER_STATUSES.includes(s as OrderStatus));
    if (wrong.length > 0 || values.length === 0)
      bad('status', `must be one or more (comma-separated) of: ${ORDER_STATUSES.join(', ')}`);
    else
      filter.status =
        values.length === 1 ? (values[0] as OrderStatus) : [...new Set(values as OrderStatus[])];
  }
  const targetType = single(query, 'target_type', details);
  if (targetType !== undefined) {
    if (!TARGET_TYPES.includes(targetType as TargetType))
      bad('target_type', `must be one of: ${TARGET_TYPES.join(', ')}`);
    else filter.targetType = targetType as TargetType;
  }
  const text = (name: string): string | undefined => {
    const v = single(query, name, details);
    if (v === undefined) return undefined;
    if (v.length === 0 || v.length > 256 || !NO_CONTROL.test(v)) {
      bad(name, 'must be 1..256 characters without control characters');
      return undefined;
    }
    return v;
  };
  const targetId = text('target_id');
  if (targetId !== undefined) filter.targetId = targetId;
  const action = text('action');
  if (action !== undefined) filter.action = action;
  const source = single(query, 'source', details);
  if (source !== undefined) {
    const canonical = SOURCES.find((s) => s.toLowerCase() === source.toLowerCase());
    if (!canonical) bad('source', `must be one of: ${SOURCES.join(', ')}`);
    else filter.source = canonical as Source;
  }
  const requestId = single(query, 'request_id', details);
  if (requestId !== undefined) {
    if (!REQUEST_ID.test(requestId)) bad('request_id', 'must be a non-negative integer');
    else filter.requestId = Number(requestId);
  }
  for (const name of ['from', 'to'] as const) {
    const v = single(query, name, details);
    if (v === undefined) continue;
    if (!ISO_TIME.test(v) || Number.isNaN(Date.parse(v))) bad(name, 'must be an ISO-8601 date-time');
    else filter[name] = new Date(v).toISOString();
  }
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) {
    bad('to', 'must not be before from');
  }

  let size = limits.defaultPageSize;
  const sizeText = single(query, 'size', details);
  if (sizeText !== undefined) {
    const n = /^[0-9]{1,9}$/.test(sizeText) ? Number(sizeText) : NaN;
    if (!(n >= 1 && n <= limits.maxPageSize)) bad('size', `must be an integer in 1..${limits.maxPageSize}`);
    else size = n;
  }
  const page: PageRequest = { size };
  const cursor = single(query, 'cursor', details);
  if (cursor !== undefined) {
    if (!isPageCursorShaped(cursor)) bad('cursor', 'must be a cursor from a previous page');
    else page.cursor = cursor;
  }
  if (details.length > 0) throw invalid(details);
  return { filter, page };
}
