import { mkdtempSync, rmSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createOpenSearchClient } from '@command-manager/opensearch';
import {
  deleteTestIndices,
  opensearchClientOptions,
  opensearchEnv,
  opensearchUrl,
  restartCommand,
  testIndexPrefix,
} from '@command-manager/test-support';
import { startDemo, type RunningDemo } from '../src/demo';

// The demo quick start (`./scripts/start --demo`) against the test run's OpenSearch instead of a local node:
// seeded groups, the sidecar process, the reference Management API, Comms API and agents.
jest.setTimeout(180_000);

const API = '/_plugins/_command_manager';

describe('the demo quick start', () => {
  it('serves the console and takes a group command all the way to success and failure', async () => {
    const prefix = testIndexPrefix(__filename);
    const client = createOpenSearchClient({ ...opensearchClientOptions() });
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cm-demo-test-'));
    const { OPENSEARCH_URL: _url, ...sidecarEnv } = opensearchEnv();
    let demo: RunningDemo | undefined;
    try {
      // 200 agents, 10 of them failing: the web group holds 100 that succeed and all 10 that fail.
      demo = await startDemo({
        agents: 200,
        failureShare: 0.05,
        port: 0,
        opensearch: { url: opensearchUrl(), sidecarEnv, client },
        indexPrefix: prefix,
        dataDir,
      });
      expect(statSync(demo.tokenFile).mode & 0o777).toBe(0o600);
      const token = readFileSync(demo.tokenFile, 'utf8').trim();
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

      const page = await fetch(demo.consoleUrl);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");

      const submitted = await fetch(`${demo.url}${API}/commands?summary=true`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          commands: [{ ...restartCommand(120), target: { type: 'group', id: 'web' } }],
        }),
      });
      expect(submitted.status).toBe(201);
      const answer = (await submitted.json()) as { commands: Array<{ request_id: number; orders: number }> };
      expect(answer.commands[0]?.orders).toBe(110);

      type Progress = {
        done: boolean;
        counts: { pending: number; sent: number; success: number; failure: number };
      };
      let progress: Progress | undefined;
      const giveUpAt = Date.now() + 120_000;
      do {
        await new Promise((r) => setTimeout(r, 250));
        const res = await fetch(`${demo.url}${API}/requests/${answer.commands[0]?.request_id}`, { headers });
        progress = (await res.json()) as Progress;
      } while (
        !(progress.done && progress.counts.success + progress.counts.failure === 110) &&
        Date.now() < giveUpAt
      );
      expect(progress.counts).toEqual({ pending: 0, sent: 0, success: 100, failure: 10 });
    } finally {
      await demo?.stop();
      const templates = await client.indices.getIndexTemplate(
        { name: `command-manager-${prefix}*` },
        { ignore: [404] },
      );
      const names = (templates.body.index_templates ?? []).map((t: { name: string }) => t.name);
      await deleteTestIndices(client, prefix, { templates: names });
      await client.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
