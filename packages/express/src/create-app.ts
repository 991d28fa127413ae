import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import {
  CommandManagerError,
  ErrorCodes,
  isBareCommand,
  MAX_REQUEST_PAGE_SIZE,
  type AuditLog,
  type CommandManagerApi,
  type Logger,
  type PullDeliveryApi,
  type ResultOutcome,
  type StoredOrder,
} from '@command-manager/core';
import { verifiedClientCn, type Authenticator } from './auth/authenticator';
import type { Caller, Operation } from './auth/roles';
import { auditRecording, type AuditLocals } from './internal/audit-recording';
import { parseAuditQuery } from './internal/audit-query';
import { createHttpMetrics, type HttpMetrics } from './http-metrics';
import { errorBody } from './internal/error-body';
import { cachedReadiness, type Readiness } from './internal/cached-readiness';
import { registerConsoleRoutes } from './internal/console-routes';
import { errorMiddleware } from './internal/error-middleware';
import { jsonBody as jsonBodyReader } from './internal/json-body';
import { API_PREFIX } from './internal/paths';
import { registerPullRoutes } from './internal/pull-routes';
import {
  parseIdempotencyKey,
  parseLastEventId,
  parseListQuery,
  parseOrderIdParam,
  parsePlanToken,
  parseRequestIdParam,
  parseSubmitQuery,
} from './internal/request-parsing';
import { parseRequestListQuery } from './internal/request-list-query';
import { writeSubmitResponse } from './internal/submit-response';
import { buildOpenApiDocument } from './openapi';
import { RequestEventStreams } from './request-event-streams';

export type { Readiness } from './internal/cached-readiness';

export interface AppLimits {
  /** Largest JSON body accepted (413 beyond). */
  bodyLimitBytes: number;
  /** Default and largest page of `GET /orders`. */
  defaultPageSize?: number;
  maxPageSize?: number;
}

export interface AppDeps {
  api: CommandManagerApi;
  auth: Authenticator;
  /** Metrics on a per-app registry; one is created when absent. */
  metrics?: HttpMetrics;
  /** OpenSearch reachable, templates in place … `/ready` answers 503 when not ready (or when this throws). */
  readiness: () => Promise<Readiness>;
  logger?: Logger;
  limits: AppLimits;
  /** Serve `/metrics` without authentication (e.g. bound to a private interface). Default: role operation `metrics`. */
  publicMetrics?: boolean;
  /** Pull delivery (`…/orders/_claim`, `…/orders/_ack`); absent when this sidecar pushes. */
  pull?: PullDeliveryApi;
  /** How long a `/ready` verdict is reused (unauthenticated probes cost one check per period); default 1000, 0: none. */
  readyCacheMs?: number;
  /**
   * Express `trust proxy` setting (which `X-Forwarded-For` to believe for the client IP): addresses or CIDRs
   * of trusted reverse proxies. Default: none (the connecting address is the client).
   */
  trustProxy?: boolean | number | string | readonly string[];
  /** The console package's directory (its `static/` and built `dist/`): served under `/console/`. Absent: no console. */
  consoleDir?: string;
  /**
   * The progress event streams (`…/requests/:id/events`); the owner calls `closeAll` on shutdown. Default:
   * streams over `api.getRequest` with the default bounds.
   */
  requestEvents?: RequestEventStreams;
  /**
   * The audit trail: every POST and every refused call (401/403/409/413/422/429) is recorded there, and
   * `GET …/audit` (operation `audit`) reads it. Absent: nothing is recorded and the route answers 404.
   */
  audit?: AuditLog;
}

type Locals = AuditLocals;

function locals(res: Response): Locals {
  return res.locals as Locals;
}

function callerOf(res: Response): Caller {
  const caller = locals(res).caller;
  // Unreachable: every API route runs `authorize` first.
  if (!caller) throw new CommandManagerError(ErrorCodes.UNAUTHENTICATED, 'authentication required');
  return caller;
}

function orderEnvelope(stored: StoredOrder): { id: string; order: StoredOrder['order'] } {
  // `rev` is the store's opaque concurrency token: not part of the API.
  return { id: stored.id, order: stored.order };
}

/**
 * The HTTP adapter: routes, parsing and error mapping only (rules stay in core). Separate from `listen`
 * (see `createServer`), so tests drive it with supertest.
 */
export function createApp(deps: AppDeps): express.Express {
  const { api, auth, logger } = deps;
  const metrics = deps.metrics ?? createHttpMetrics();
  const defaultPageSize = deps.limits.defaultPageSize ?? 100;
  const maxPageSize = deps.limits.maxPageSize ?? 1000;
  const openapi = JSON.stringify(buildOpenApiDocument({ defaultPageSize, maxPageSize }));

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const trustProxy = deps.trustProxy ?? false;
  app.set(
    'trust proxy',
    Array.isArray(trustProxy) ? (trustProxy.length > 0 ? [...trustProxy] : false) : trustProxy,
  );
  const readiness = cachedReadiness(deps.readiness, deps.readyCacheMs ?? 1000, undefined, (e) =>
    logger?.warn('readiness check failed', { error: e instanceof Error ? e.message : String(e) }),
  );
  // Node's querystring: `a=1&a=2` becomes an array (rejected as "given twice"), no nested objects.
  app.set('query parser', 'simple');

  // Every answer is counted by route pattern (bounded label values), method and status.
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      metrics.observeRequest(
        { method: req.method, route: locals(res).route ?? 'unmatched', status: res.statusCode },
        seconds,
      );
    });
    next();
  });

  if (deps.audit) app.use(auditRecording(deps.audit));

  const route =
    (pattern: string): RequestHandler =>
    (req, res, next) => {
      locals(res).route = pattern;
      const id = (req.params as { id?: unknown }).id;
      if (typeof id === 'string') locals(res).pathId = id;
      next();
    };

  /** Authenticates (before any body is read) and checks that the caller's roles grant `operation`. */
  const authorize =
    (operation: Operation): RequestHandler =>
    async (req, res, next) => {
      locals(res).operation = operation;
      const caller = await auth.authenticate({
        authorization: req.get('authorization'),
        clientIp: req.ip ?? req.socket.remoteAddress ?? 'unknown',
        clientCertificateCn: verifiedClientCn(req.socket),
      });
      // Known before the role check, so that a refused call is recorded with who made it.
      locals(res).caller = caller;
      if (!caller.operations.has(operation)) {
        throw new CommandManagerError(ErrorCodes.FORBIDDEN, `the caller's roles do not grant "${operation}"`);
      }
      next();
    };

  const jsonBody = jsonBodyReader(deps.limits.bodyLimitBytes);
  const requireBody: RequestHandler = (req, _res, next) => {
    if (req.body === undefined) {
      throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'a JSON body is required', {
        details: [{ pointer: '', message: 'is required' }],
      });
    }
    next();
  };

  // ---- operations endpoints ----
  app.get('/health', route('/health'), (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', route('/ready'), async (_req, res) => {
    const state = await readiness();
    if (state.ready) {
      res.json({ ready: true, checks: state.checks });
      return;
    }
    const failed = Object.entries(state.checks).filter(([, ok]) => !ok);
    res
      .status(503)
      .setHeader('Retry-After', '5')
      .json(
        errorBody(
          ErrorCodes.STORE_UNAVAILABLE,
          'not ready',
          failed.length > 0
            ? failed.map(([name]) => ({ pointer: `/checks/${name}`, message: 'failed' }))
            : [{ pointer: '', message: 'readiness could not be determined' }],
        ),
      );
  });
  app.get(
    '/metrics',
    route('/metrics'),
    ...(deps.publicMetrics ? [] : [authorize('metrics')]),
    async (_req, res) => {
      const text = await metrics.registry.metrics();
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.send(text);
    },
  );
  app.get('/openapi.json', route('/openapi.json'), (_req, res) => {
    res.type('application/json').send(openapi);
  });

  // ---- the API ----
  const submitPath = `${API_PREFIX}/commands`;
  app.post(submitPath, route(submitPath), authorize('submit'), jsonBody, requireBody, async (req, res) => {
    const { summary, dryRun } = parseSubmitQuery(req.query);
    if (dryRun) {
      // Nothing is written: an Idempotency-Key or a Plan-Token has nothing to hold.
      res.json(await api.planSubmission(req.body, callerOf(res).principal));
      return;
    }
    const idempotencyKey = parseIdempotencyKey(req.get('idempotency-key'));
    const planToken = parsePlanToken(req.get('plan-token'));
    const result = await api.submit(req.body, callerOf(res).principal, {
      ...(idempotencyKey && { idempotencyKey }),
      ...(planToken && { planToken }),
    });
    locals(res).requestIds = result.commands.map((c) => c.request_id);
    await writeSubmitResponse(res, result, summary, isBareCommand(req.body));
    metrics.ordersWritten(result.commands.reduce((n, c) => n + c.orders, 0));
    metrics.commands.submitted(req.body, result);
  });

  const requestsPath = `${API_PREFIX}/requests`;
  app.get(requestsPath, route(requestsPath), authorize('read'), async (req, res) => {
    const query = parseRequestListQuery(req.query, {
      defaultPageSize,
      maxPageSize: Math.min(maxPageSize, MAX_REQUEST_PAGE_SIZE),
    });
    res.json(await api.listRequests(query));
  });

  const requestPath = `${API_PREFIX}/requests/:id`;
  app.get(requestPath, route(requestPath), authorize('read'), async (req, res) => {
    res.json(await api.getRequest(parseRequestIdParam(req.params.id)));
  });

  const requestEvents = deps.requestEvents ?? new RequestEventStreams((id) => api.getRequest(id), {}, logger);
  const eventsPath = `${API_PREFIX}/requests/:id/events`;
  app.get(eventsPath, route(eventsPath), authorize('read'), async (req, res) => {
    await requestEvents.stream(res, {
      requestId: parseRequestIdParam(req.params.id),
      caller: callerOf(res).principal.name,
      lastEventId: parseLastEventId(req.get('last-event-id')),
    });
  });

  const cancelPath = `${API_PREFIX}/requests/:id/cancel`;
  app.post(cancelPath, route(cancelPath), authorize('cancel'), async (req, res) => {
    const requestId = parseRequestIdParam(req.params.id);
    const cancelled = await api.cancel(requestId, callerOf(res).principal);
    metrics.commands.ordersCancelled(cancelled.cancelled);
    res.json(cancelled);
  });

  const orderPath = `${API_PREFIX}/orders/:id`;
  app.get(orderPath, route(orderPath), authorize('read'), async (req, res) => {
    res.json(orderEnvelope(await api.getOrder(parseOrderIdParam(req.params.id))));
  });

  const ordersPath = `${API_PREFIX}/orders`;
  app.get(ordersPath, route(ordersPath), authorize('read'), async (req, res) => {
    const { filter, page } = parseListQuery(req.query, { defaultPageSize, maxPageSize });
    const result = await api.listOrders(filter, page);
    res.json({
      orders: result.items.map(orderEnvelope),
      ...(result.cursor ? { cursor: result.cursor } : {}),
    });
  });

  const resultsPath = `${API_PREFIX}/results`;
  app.post(resultsPath, route(resultsPath), authorize('results'), jsonBody, requireBody, async (req, res) => {
    // Core accepts a single report too; this route is the bulk one.
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body) || !('results' in body)) {
      throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'the body must be {"results": [...]}', {
        details: [{ pointer: '/results', message: 'is required' }],
      });
    }
    const outcomes = await api.reportResults(body, callerOf(res).principal);
    metrics.commands.resultsReported(outcomes);
    const tally = { applied: 0, conflict: 0, unknown: 0, invalid: 0, error: 0 };
    for (const o of outcomes) tally[o.outcome]++;
    // `error` (the store refused some writes) only when it happened: the usual answer keeps its shape.
    const { error, ...usual } = tally;
    res.json({ results: outcomes.map(outcomeBody), ...usual, ...(error > 0 && { error }) });
  });

  const resultPath = `${API_PREFIX}/orders/:id/result`;
  app.post(resultPath, route(resultPath), authorize('results'), jsonBody, requireBody, async (req, res) => {
    const id = parseOrderIdParam(req.params.id);
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'the body must be an object', {
        details: [{ pointer: '', message: 'must be of type object' }],
      });
    }
    if ('id' in body && body.id !== id) {
      throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'the id is given by the path', {
        details: [{ pointer: '/id', message: 'must be absent or equal to the id in the path' }],
      });
    }
    const outcomes = await api.reportResults({ ...body, id }, callerOf(res).principal);
    metrics.commands.resultsReported(outcomes);
    const [outcome] = outcomes;
    if (!outcome) throw new CommandManagerError(ErrorCodes.INTERNAL, 'no outcome for the report');
    sendSingleOutcome(res, outcome);
  });

  const auditPath = `${API_PREFIX}/audit`;
  const audit = deps.audit;
  if (audit) {
    app.get(auditPath, route(auditPath), authorize('audit'), async (req, res) => {
      res.json(await audit.page(parseAuditQuery(req.query, { defaultPageSize, maxPageSize })));
    });
  }

  registerPullRoutes(app, { pull: deps.pull, route, authorize, jsonBody, requireBody });
  if (deps.consoleDir !== undefined) registerConsoleRoutes(app, deps.consoleDir, route);

  app.use((_req: Request, _res: Response, next: NextFunction) => {
    next(new CommandManagerError(ErrorCodes.NOT_FOUND, 'no such route'));
  });
  app.use(errorMiddleware(logger));
  return app;
}

function outcomeBody(o: ResultOutcome): Record<string, unknown> {
  return { ...o };
}

/** A single report: applied is 200; the others are errors of the one shape, mapped by the one table. */
function sendSingleOutcome(res: Response, outcome: ResultOutcome): void {
  switch (outcome.outcome) {
    case 'applied':
      res.json(outcomeBody(outcome));
      return;
    case 'conflict':
      throw new CommandManagerError(ErrorCodes.INVALID_TRANSITION, outcome.message, {
        details: [{ pointer: '/status', message: `the order is ${outcome.status}` }],
      });
    case 'unknown':
      throw new CommandManagerError(ErrorCodes.NOT_FOUND, outcome.message, {
        details: [{ pointer: '/params/id', message: 'no such order' }],
      });
    case 'invalid':
      throw new CommandManagerError(outcome.code ?? ErrorCodes.VALIDATION_FAILED, outcome.message, {
        details: [{ pointer: '/result', message: outcome.message }],
      });
    case 'error':
      throw new CommandManagerError(ErrorCodes.STORE_UNAVAILABLE, outcome.message, { retryAfterSec: 1 });
  }
}
