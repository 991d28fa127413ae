import { isRetryableStatus } from '../src/internal/retryable-status';

describe('isRetryableStatus', () => {
  it.each([500, 502, 503, 504, 599, 429, 408])('%i is retryable', (s) =>
    expect(isRetryableStatus(s)).toBe(true),
  );
  it.each([200, 400, 401, 403, 404, 409, 413, 422, 600])('%i is not', (s) =>
    expect(isRetryableStatus(s)).toBe(false),
  );
});
