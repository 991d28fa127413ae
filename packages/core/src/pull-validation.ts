/**
 * Validation of the pull delivery bodies (`_claim`, `_ack`) against their schemas, with defaults applied.
 * Errors name every bad field (`VALIDATION_FAILED` with `details`), like every other body.
 */
import type { ValidateFunction } from 'ajv/dist/2020';
import { CommandManagerError, ErrorCodes } from './errors';
import type { ErrorDetail } from './errors';
import { createAjv, sortDetails, toErrorDetails } from './internal/ajv';
import type { TargetType } from './model';
import {
  DEFAULT_CLAIM_LEASE_MS,
  DEFAULT_CLAIM_SIZE,
  ackRequestSchema,
  claimRequestSchema,
} from './pull-schemas';
import type { AckInput, ClaimInput } from './pull-types';

let compiled: { claim: ValidateFunction; ack: ValidateFunction } | undefined;

function validators(): { claim: ValidateFunction; ack: ValidateFunction } {
  if (!compiled) {
    const ajv = createAjv();
    compiled = { claim: ajv.compile(claimRequestSchema), ack: ajv.compile(ackRequestSchema) };
  }
  return compiled;
}

function invalid(details: ErrorDetail[], what: string): CommandManagerError {
  const sorted = sortDetails(details);
  const first = sorted[0];
  return new CommandManagerError(
    ErrorCodes.VALIDATION_FAILED,
    first ? `the ${what} is invalid: ${first.pointer || '/'} ${first.message}` : `the ${what} is invalid`,
    { details: sorted },
  );
}

interface ClaimBody {
  consumer: string;
  size?: number;
  lease_ms?: number;
  wait_ms?: number;
  target?: { type: TargetType; id: string };
}

/** Validates a `_claim` body; omitted fields take their defaults (size 100, lease 30 s, no wait). */
export function validateClaimRequest(body: unknown): ClaimInput {
  const v = validators().claim;
  if (!v(body)) throw invalid(toErrorDetails(v.errors), 'claim');
  const b = body as ClaimBody;
  const input: ClaimInput = {
    consumer: b.consumer,
    size: b.size ?? DEFAULT_CLAIM_SIZE,
    leaseMs: b.lease_ms ?? DEFAULT_CLAIM_LEASE_MS,
    waitMs: b.wait_ms ?? 0,
  };
  if (b.target) input.target = { type: b.target.type, id: b.target.id };
  return input;
}

/** Validates an `_ack` body; a repeated id is acknowledged once. */
export function validateAckRequest(body: unknown): AckInput {
  const v = validators().ack;
  if (!v(body)) throw invalid(toErrorDetails(v.errors), 'ack');
  const b = body as { consumer: string; orders: string[] };
  return { consumer: b.consumer, orders: [...new Set(b.orders)] };
}
