/**
 * The indexer's time as the clock-skew guard reads it, with the sidecar's own user (the role's
 * `cluster:monitor/health` is enough). The node runs on this machine: its clock is this clock.
 */
import { OpenSearchServerTime } from '@command-manager/opensearch';
import { testIndices } from './helpers/test-indices';

const t = testIndices(__filename);

afterAll(() => t.close());

it('answers the indexer time in whole seconds, within the round trip of this clock', async () => {
  const source = new OpenSearchServerTime(t.client);
  const before = Date.now();
  const server = await source.serverTime();
  const after = Date.now();
  expect(server.getTime() % 1000).toBe(0);
  expect(server.getTime()).toBeGreaterThanOrEqual(before - source.resolutionMs);
  expect(server.getTime()).toBeLessThanOrEqual(after);
});
