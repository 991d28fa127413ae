/**
 * Deep copy used on the way into and out of the in-memory stores, so that a caller mutating what it passed
 * in or got back can never change stored state (as with a real datastore, which serialises).
 * `structuredClone` is available from Node 17 on.
 */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
