import {
  CommandManagerError,
  ErrorCodes,
  ORDER_STATUSES,
  SOURCES,
  decodeRequestCursor,
  type ErrorDetail,
  type OrderStatus,
  type RequestListQuery,
  type Source,
} from '@command-manager/core';

/**
 * `GET /requests` query: every bad or unknown parameter is named by a pointer `/query/<name>` (the virtual
 * document of request-parsing.ts). The cursor is decoded here already, so that a garbled one is a 400
 * naming `/query/cursor` and never reaches the store.
 */
const PARAMS = ['source', 'user', 'action', 'status', 'from', 'to', 'size', 'cursor'];
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?$/;
// Control characters are what this pattern exists to refuse (core's NO_CONTROL_CHARS_PATTERN).
// eslint-disable-next-line no-control-regex
const NO_CONTROL = /^[^\u0000-\u001F\u007F-\u009F]*$/;

export interface RequestListLimits {
  defaultPageSize: number;
  maxPageSize: number;
}

export function parseRequestListQuery(
  query: Record<string, unknown>,
  limits: RequestListLimits,
): RequestListQuery {
  const details: ErrorDetail[] = [];
  const bad = (name: string, message: string): void => {
    details.push({ pointer: `/query/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`, message });
  };
  for (const name of Object.keys(query)) {
    if (!PARAMS.includes(name)) bad(name, `unknown parameter (allowed: ${PARAMS.join(', ')})`);
  }
  const single = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      bad(name, 'must be given once');
      return undefined;
    }
    return v;
  };
  const text = (name: string): string | undefined => {
    const v = single(name);
    if (v === undefined) return undefined;
    if (v.length === 0 || v.length > 256 || !NO_CONTROL.test(v)) {
      bad(name, 'must be 1..256 characters without control characters');
      return undefined;
    }
    return v;
  };

  let size = limits.defaultPageSize;
  const sizeText = single('size');
  if (sizeText !== undefined) {
    const n = /^[0-9]{1,9}$/.test(sizeText) ? Number(sizeText) : NaN;
    if (!(n >= 1 && n <= limits.maxPageSize)) bad('size', `must be an integer in 1..${limits.maxPageSize}`);
    else size = n;
  }
  const result: RequestListQuery = { size };

  const source = single('source');
  if (source !== undefined) {
    const canonical = SOURCES.find((s) => s.toLowerCase() === source.toLowerCase());
    if (!canonical) bad('source', `must be one of: ${SOURCES.join(', ')}`);
    else result.source = canonical as Source;
  }
  const user = text('user');
  if (user !== undefined) result.user = user;
  const action = text('action');
  if (action !== undefined) result.action = action;
  const status = single('status');
  if (status !== undefined) {
    const values = status.split(',');
    if (values.some((s) => !ORDER_STATUSES.includes(s as OrderStatus)))
      bad('status', `must be one or more (comma-separated) of: ${ORDER_STATUSES.join(', ')}`);
    else result.status = [...new Set(values as OrderStatus[])];
  }
  for (const name of ['from', 'to'] as const) {
    const v = single(name);
    if (v === undefined) continue;
    if (!ISO_TIME.test(v) || Number.isNaN(Date.parse(v))) bad(name, 'must be an ISO-8601 date-time');
    else result[name] = new Date(v).toISOString();
  }
  if (result.from !== undefined && result.to !== undefined && result.from > result.to) {
    bad('to', 'must not be before from');
  }
  const cursor = single('cursor');
  if (cursor !== undefined) {
    try {
      decodeRequestCursor(cursor);
      result.cursor = cursor;
    } catch {
      bad('cursor', 'must be a cursor from a previous page');
    }
  }
  if (details.length > 0) {
    const first = details
      .slice(0, 3)
      .map((d) => `${d.pointer} ${d.message}`)
      .join('; ');
    throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, `the request is invalid: ${first}`, {
      details,
    });
  }
  return result;
}
