import { createOpenSearchClient } from '@command-manager/opensearch';
import { adminClientOptions, opensearchUrl, testIndexPrefix } from '@command-manager/test-support';
import { runE2e, type E2eProgress } from '../src';

// Seeding, a sidecar process started with ts-node, 1,000 agents: bounded, but give it room on a slow CI box.
jest.setTimeout(240_000);

describe('end to end: one command to a group of 1,000 agents', () => {
  it('drives every order to success or failure with the exact expected counts, then cleans up', async () => {
    const prefix = testIndexPrefix(__filename).replace(/-$/, '');
    const seen: E2eProgress[] = [];
    const report = await runE2e({
      opensearchUrl: opensearchUrl(),
      agents: 1000,
      failureShare: 0.05,
      indexPrefix: prefix,
      timeoutMs: 180_000,
      onProgress: (p) => seen.push(p),
    });

    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.orders).toBe(1000);
    expect(report.counts).toEqual({ pending: 0, sent: 0, success: 950, failure: 50 });
    expect(report.agentsReport).toEqual({ succeeded: 950, failed: 50, lost: 0 });
    expect(report.sidecarExitCode).toBe(0);

    // Progress was read while it happened, and terminal counts never went down.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toMatchObject({ done: true, total: 1000, requestId: report.requestId });
    const terminal = seen.map((p) => p.counts.success + p.counts.failure);
    expect(terminal).toEqual([...terminal].sort((a, b) => a - b));

    // Nothing of the run is left in OpenSearch.
    // As an administrator: listing indices (cat) is beyond the sidecar's role on a secured node.
    const client = createOpenSearchClient({ ...adminClientOptions() });
    try {
      const left = await client.cat.indices({ index: `${prefix}*`, format: 'json' });
      expect(left.body).toEqual([]);
      // A wildcard that matches no template is answered 404 with an empty list.
      const templates = await client.indices.getIndexTemplate(
        { name: `command-manager-${prefix}*` },
        { ignore: [404] },
      );
      expect(templates.body.index_templates).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('runs in pull delivery too: the Management API claims and acks, with the same exact counts', async () => {
    // Small, to stay a few seconds: the push run above covers the 1,000-agent scale.
    const prefix = `${testIndexPrefix(__filename)}pull`;
    const report = await runE2e({
      opensearchUrl: opensearchUrl(),
      agents: 100,
      failureShare: 0.1,
      delivery: 'pull',
      indexPrefix: prefix,
      timeoutMs: 120_000,
    });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.delivery).toBe('pull');
    expect(report.counts).toEqual({ pending: 0, sent: 0, success: 90, failure: 10 });
    expect(report.agentsReport).toEqual({ succeeded: 90, failed: 10, lost: 0 });
    expect(report.sidecarExitCode).toBe(0);
  });

  it('two sidecars: offline agents fail with 908 when the window ends while the online ones succeed; late agents join a live command once', async () => {
    const prefix = `${testIndexPrefix(__filename)}window`;
    const report = await runE2e({
      opensearchUrl: opensearchUrl(),
      agents: 20,
      failureShare: 0.1,
      offlineAgents: 3,
      lateAgents: 2,
      lateAfterMs: 5000,
      deliveryWindowS: 10,
      sidecars: 2,
      indexPrefix: prefix,
      timeoutMs: 90_000,
    });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    // 23 orders at submission (20 online, 3 offline), 2 more for the agents that joined 5 s later.
    expect(report.orders).toBe(23);
    expect(report.expected).toEqual({ success: 20, failure: 5, offline: 3, late: 2 });
    expect(report.counts).toEqual({ pending: 0, sent: 0, success: 20, failure: 5 });
    expect(report.agentsReport).toEqual({ succeeded: 20, failed: 2, lost: 0 });
    expect(report.sidecars).toBe(2);
    expect(report.sidecarExitCode).toBe(0);
  });

  it('refuses a failure share outside 0..1 before starting anything', async () => {
    await expect(runE2e({ opensearchUrl: opensearchUrl(), failureShare: 1.5 })).rejects.toThrow(RangeError);
  });
});
