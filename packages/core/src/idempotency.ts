/**
 * Idempotency-Key handling of a submission: the key is stored per principal, the body is fingerprinted
 * (canonical JSON, so field order does not matter), a replay returns the first answer, a reused key with
 * another body is IDEMPOTENCY_KEY_REUSED, and a key whose first submission is still running is
 * IDEMPOTENCY_IN_PROGRESS.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { CommandManagerError, ErrorCodes } from './errors';
import type { CommandBatch } from './model';
import type { Clock, Logger, RequestStore } from './ports';
import type { Principal, SubmitResult } from './service-types';
import { errorMessage } from './internal/error-text';

/** Keys are per principal (one caller cannot block another's key) and of bounded length (a store document id). */
export function idempotencyStoreKey(principal: Principal, key: string): string {
  return createHash('sha256').update(principal.name).update('\n').update(key).digest('hex');
}

/** What a key's reservation remembers of the body: the same batch from the same principal, in any field order. */
export function fingerprint(principal: Principal, batch: CommandBatch): string {
  return createHash('sha256').update(principal.name).update('\n').update(canonicalJson(batch)).digest('hex');
}

export interface IdempotencyDeps {
  requests: RequestStore;
  clock: Clock;
  logger: Logger;
  /** A reservation without an answer after this long is taken over (see `CommandServiceLimits`). */
  reservationTtlMs: number;
}

/** Reserves, answers and releases the Idempotency-Keys of submissions in the request store. */
export class IdempotencyKeys {
  constructor(private readonly deps: IdempotencyDeps) {}

  /** Undefined when the key is new (the submission goes on); the first answer when it is a replay. */
  async reserve(key: string, print: string): Promise<SubmitResult | undefined> {
    const seen = await this.deps.requests.reserveIdempotency(key, print, {
      now: this.deps.clock.now(),
      reservationTtlMs: this.deps.reservationTtlMs,
    });
    if (!seen) return undefined;
    if (seen.fingerprint !== print) {
      throw new CommandManagerError(
        ErrorCodes.IDEMPOTENCY_KEY_REUSED,
        'this Idempotency-Key was used with a different body',
      );
    }
    if (seen.response === undefined) {
      throw new CommandManagerError(
        ErrorCodes.IDEMPOTENCY_IN_PROGRESS,
        'the first submission with this Idempotency-Key is still being processed',
        { retryAfterSec: 1 },
      );
    }
    return seen.response as SubmitResult;
  }

  /** Records the answer of the key's submission; a failure is logged (the submission stands). */
  async complete(key: string, result: SubmitResult): Promise<void> {
    try {
      await this.deps.requests.completeIdempotency(key, result);
    } catch (e) {
      this.deps.logger.warn('could not record the idempotent answer', { error: errorMessage(e) });
    }
  }

  /** Drops the key of a submission that wrote nothing, so that a retry is processed. */
  async release(key: string): Promise<void> {
    try {
      await this.deps.requests.releaseIdempotency(key);
    } catch (e) {
      this.deps.logger.warn('could not release an idempotency key', { error: errorMessage(e) });
    }
  }
}
