/**
 * Whether an HTTP status from the Management API is worth retrying: 5xx (server trouble), 429 (rate
 * limited) and 408 (request timeout). Other 4xx mean the request itself is wrong and will fail again.
 */
export function isRetryableStatus(httpStatus: number): boolean {
  return (httpStatus >= 500 && httpStatus <= 599) || httpStatus === 429 || httpStatus === 408;
}
