/**
 * Pull delivery as functions: what a server calls to claim due orders and acknowledge them as sent, instead
 * of receiving them on `/accept_commands`. The scheduler package implements it (`PullDelivery`); the HTTP
 * adapter serves it at `POST …/orders/_claim` and `POST …/orders/_ack`.
 */
import type { OrderStatus, StoredOrder, TargetType } from './model';

export interface ClaimInput {
  consumer: string;
  size: number;
  leaseMs: number;
  waitMs: number;
  target?: { type: TargetType; id: string };
}

export interface ClaimAnswer {
  /** The orders now leased to the consumer (empty when none came within `waitMs`). */
  orders: StoredOrder[];
  /**
   * When their lease ends (ISO-8601, the indexer's time); absent with no orders. After it another claim may
   * take them; an ack is still applied to an order nobody claimed since.
   */
  leaseExpiresAt?: string;
}

export interface AckInput {
  consumer: string;
  orders: readonly string[];
}

/**
 * What an ack did to one order: `applied` (now `sent`); `not_yours` (leased to another consumer, or released
 * by rollout control, or claimed by another after this consumer's lease lapsed); `expired` (the order's deadline
 * passed: it was not marked sent, and fails by its deadline); `unknown` (no such order); `conflict`
 * (the order is no longer pending, e.g. already `sent`, cancelled or failed: `status` says which).
 */
export type AckOutcome =
  | { id: string; outcome: 'applied'; status: 'sent' }
  | { id: string; outcome: 'not_yours' | 'expired' | 'unknown'; message: string }
  | { id: string; outcome: 'conflict'; status: OrderStatus; message: string };

export interface PullDeliveryApi {
  /** Claims due orders for a consumer, long-polling up to `waitMs` when none is due. */
  claim(input: ClaimInput, options?: { signal?: AbortSignal }): Promise<ClaimAnswer>;
  /** Marks claimed orders `sent`, each conditionally on the consumer's live lease. */
  ack(input: AckInput): Promise<AckOutcome[]>;
}
