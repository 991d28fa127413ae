/** Exit codes, for scripts. */
export const ExitCodes = {
  OK: 0,
  /** The API refused the call (4xx) or failed (5xx). */
  API_ERROR: 1,
  USAGE: 2,
  /** The API could not be reached. */
  UNREACHABLE: 3,
  /** Invalid configuration (every bad key is printed). */
  CONFIG: 4,
  /** `status --watch`: the request ended with failed orders. */
  ORDERS_FAILED: 5,
  /** `audit verify`: a record was edited or deleted. */
  AUDIT_FAILED: 6,
} as const;
