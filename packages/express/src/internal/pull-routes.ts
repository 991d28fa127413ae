import type { Express, RequestHandler, Response } from 'express';
import {
  CommandManagerError,
  ErrorCodes,
  validateAckRequest,
  validateClaimRequest,
  type AckOutcome,
  type PullDeliveryApi,
} from '@command-manager/core';
import type { Operation } from '../auth/roles';
import { API_PREFIX } from './paths';

export interface PullRouteDeps {
  /** Absent: this sidecar does not serve pull delivery; the routes answer 404 saying so. */
  pull: PullDeliveryApi | undefined;
  route: (pattern: string) => RequestHandler;
  authorize: (operation: Operation) => RequestHandler;
  jsonBody: RequestHandler;
  requireBody: RequestHandler;
}

const ACK_OUTCOMES: readonly AckOutcome['outcome'][] = [
  'applied',
  'not_yours',
  'expired',
  'unknown',
  'conflict',
];

/**
 * Pull delivery routes: `POST …/orders/_claim` (long-polls up to `wait_ms`) and `POST …/orders/_ack`. Both
 * need the role operation `claim`. Bodies are validated by core's schemas before anything is read.
 */
export function registerPullRoutes(app: Express, deps: PullRouteDeps): void {
  const { route, authorize, jsonBody, requireBody } = deps;
  const pullOf = (): PullDeliveryApi => {
    if (!deps.pull) {
      throw new CommandManagerError(
        ErrorCodes.NOT_FOUND,
        'pull delivery is off on this sidecar (scheduler.delivery is not pull, or scheduler.enabled is false)',
      );
    }
    return deps.pull;
  };

  const claimPath = `${API_PREFIX}/orders/_claim`;
  app.post(claimPath, route(claimPath), authorize('claim'), jsonBody, requireBody, async (req, res) => {
    const pull = pullOf();
    const input = validateClaimRequest(req.body);
    const answer = await pull.claim(input, { signal: closedSignal(res) });
    res.json({
      orders: answer.orders.map((o) => ({ id: o.id, order: o.order })),
      ...(answer.leaseExpiresAt !== undefined && { lease_expires_at: answer.leaseExpiresAt }),
    });
  });

  const ackPath = `${API_PREFIX}/orders/_ack`;
  app.post(ackPath, route(ackPath), authorize('claim'), jsonBody, requireBody, async (req, res) => {
    const pull = pullOf();
    const outcomes = await pull.ack(validateAckRequest(req.body));
    const tally = Object.fromEntries(ACK_OUTCOMES.map((o) => [o, 0])) as Record<
      AckOutcome['outcome'],
      number
    >;
    for (const o of outcomes) tally[o.outcome]++;
    res.json({ results: outcomes, ...tally });
  });
}

/** Aborted when the client goes away before the answer is written (a long-poll then stops waiting). */
function closedSignal(res: Response): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}
