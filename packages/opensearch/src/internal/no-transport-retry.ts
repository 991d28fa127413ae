/**
 * Transport options for create-only and conditional writes (`op_type: create`, `if_seq_no`/`if_primary_term`):
 * the client must not resend them by itself. Its transport retries a request whose answer timed out or whose
 * connection broke (Transport.js: `TimeoutError`/`ConnectionError` while `attempts < maxRetries`), though the
 * node may have applied the first one; the resent write then meets its own effect as a 409 and reads as a
 * lost race (a lease "lost", an order "already written"). Without the retry the caller sees the failure as a
 * store error and decides: the scheduler lets the lease expire and claims again, a submission answers 503.
 */
export const NO_TRANSPORT_RETRY = Object.freeze({ maxRetries: 0 });
