import type { RequestHandler, Response } from 'express';
import { MAX_AUDIT_REQUEST_IDS, type AuditLog, type AuditOutcome } from '@command-manager/core';
import type { Caller } from '../auth/roles';

/** Statuses of refused calls recorded whatever the method: authentication, roles, conflicts, bounds, limits. */
export const AUDITED_REFUSALS: ReadonlySet<number> = new Set([401, 403, 409, 413, 422, 429]);

/** What the routes leave on `res.locals` for the audit trail. */
export interface AuditLocals {
  caller?: Caller;
  route?: string;
  /** The role operation the route requires (set before authentication, so a 401 names it too). */
  operation?: string;
  /** Set by the error middleware. */
  errorCode?: string;
  /** Request ids the call concerned (submitted); otherwise the request id of the route's `:id`, if any. */
  requestIds?: number[];
  /** The route's `:id` parameter. */
  pathId?: string;
}

function outcomeOf(status: number): AuditOutcome {
  return status < 400 ? 'ok' : status >= 500 ? 'error' : 'refused';
}

/**
 * Records, once each answer is sent, every call of a route that changes state (POST) and every refused
 * call (`AUDITED_REFUSALS`) of any route. Recording only queues (`AuditLog.record`): the answer never waits.
 */
export function auditRecording(audit: AuditLog): RequestHandler {
  return (req, res, next) => {
    res.on('finish', () => {
      const l = res.locals as AuditLocals;
      if (l.route === undefined) return;
      if (req.method !== 'POST' && !AUDITED_REFUSALS.has(res.statusCode)) return;
      audit.record(entryOf(req.method, req.ip ?? req.socket.remoteAddress ?? 'unknown', res, l));
    });
    next();
  };
}

function entryOf(
  method: string,
  clientIp: string,
  res: Response,
  l: AuditLocals,
): Parameters<AuditLog['record']>[0] {
  const idParam = l.pathId;
  const fromPath =
    idParam !== undefined && /^[0-9]{1,15}(-|$)/.test(idParam) ? [Number.parseInt(idParam, 10)] : [];
  const requestIds = (l.requestIds ?? fromPath).slice(0, MAX_AUDIT_REQUEST_IDS);
  return {
    '@timestamp': new Date().toISOString(),
    ...(l.caller && { principal: l.caller.principal.name, auth_method: l.caller.method }),
    client_ip: clientIp,
    operation: l.operation ?? 'none',
    route: `${method} ${l.route ?? ''}`,
    status: res.statusCode,
    outcome: outcomeOf(res.statusCode),
    ...(l.errorCode !== undefined && res.statusCode >= 400 && { code: l.errorCode }),
    ...(requestIds.length > 0 && { request_ids: requestIds }),
  };
}
