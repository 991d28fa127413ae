/**
 * Partitions of the orders stream. Every order belongs to one partition, a hash of its document id
 * (`<request_id>-<order_id>`) modulo the partition count, so that sidecars can share the stream by holding
 * leases on partitions instead of writing a lease on every order (see the scheduler's `partition-leases.ts`).
 */

/** Partitions of an orders index unless configured otherwise: enough for tens of sidecars to share evenly. */
export const DEFAULT_PARTITIONS = 64;

/** Most partitions an orders index may have (each is one lease document, read in one round trip). */
export const MAX_PARTITIONS = 1024;

/** The partition of an order's document id: FNV-1a (32 bit) of its UTF-16 code units, modulo `partitions`. */
export function partitionOf(documentId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < documentId.length; i++) {
    hash ^= documentId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** The partition of orders written before partitions existed (no `scheduling.partition`). */
export const LEGACY_PARTITION = 0;

/**
 * The partition of a new order. Orders of a request with rollout limits (`max_concurrency`, `max_errors`)
 * share one partition, the request's own, so that one sidecar at a time dispatches them and counts its
 * in-flight orders against the limits; any other order gets the partition of its document id, which spreads
 * a request over every partition.
 */
export function orderPartition(
  requestId: number,
  documentId: string,
  partitions: number,
  pinned: boolean,
): number {
  return partitionOf(pinned ? String(requestId) : documentId, partitions);
}

/** The partition a stored order belongs to. */
export function partitionOfOrder(order: { scheduling: { partition?: number } }): number {
  return order.scheduling.partition ?? LEGACY_PARTITION;
}
