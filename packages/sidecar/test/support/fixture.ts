import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@opensearch-project/opensearch';
import { generateApiToken, hashApiToken } from '@command-manager/express';
import { createAgentsIndex, createOpenSearchClient, seedAgents } from '@command-manager/opensearch';
import {
  deleteTestIndices,
  opensearchClientOptions,
  opensearchEnv,
  testIndexPrefix,
} from '@command-manager/test-support';

export interface Fixture {
  /** This file's index prefix, e.g. `t-serve-1a2b3c-`; every index and template of the file starts with it. */
  prefix: string;
  client: Client;
  agentsIndex: string;
  usersFile: string;
  /** API tokens: `admin` (everything) and `comms` (reports results only). */
  adminToken: string;
  commsToken: string;
  tmp: string;
  /** The environment every `serve` of the file shares; add the orders index and the rest per test. */
  env: Record<string, string>;
  /** Deletes the file's indices and templates and its temporary files; closes the client. */
  cleanup(): Promise<void>;
}

/** An agents index with `groups` (group name → agent ids), a users file with fresh tokens, a temp folder. */
export async function createFixture(testFile: string, groups: Record<string, string[]>): Promise<Fixture> {
  const prefix = testIndexPrefix(testFile);
  const client = createOpenSearchClient({ ...opensearchClientOptions() });
  const agentsIndex = `${prefix}agents`;
  await createAgentsIndex(client, { index: agentsIndex });
  const agents = Object.entries(groups).flatMap(([group, ids]) => ids.map((id) => ({ id, groups: [group] })));
  await seedAgents(client, agents, { index: agentsIndex, refresh: 'wait_for' });

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'cm-sidecar-test-'));
  const adminToken = generateApiToken();
  const commsToken = generateApiToken();
  const usersFile = path.join(tmp, 'users.json');
  writeFileSync(
    usersFile,
    JSON.stringify({
      tokens: [
        { name: 'test-admin', token_sha256: hashApiToken(adminToken), roles: ['admin'] },
        { name: 'test-comms', token_sha256: hashApiToken(commsToken), roles: ['comms'] },
      ],
    }),
    { mode: 0o600 },
  );
  return {
    prefix,
    client,
    agentsIndex,
    usersFile,
    adminToken,
    commsToken,
    tmp,
    env: {
      ...opensearchEnv(),
      CM_AGENTS_INDEX: agentsIndex,
      CM_USERS_FILE: usersFile,
      CM_HTTP_PORT: '0',
      CM_POLL_INTERVAL_MS: '100',
    },
    cleanup: async () => {
      try {
        const templates = await client.indices.getIndexTemplate(
          { name: `command-manager-${prefix}*` },
          { ignore: [404] },
        );
        const names = (templates.body.index_templates ?? []).map((t: { name: string }) => t.name);
        await deleteTestIndices(client, prefix, { templates: names });
      } finally {
        await client.close();
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  };
}

/** A call to the sidecar's API with a bearer token. */
export async function callApi<T = unknown>(
  baseUrl: string,
  token: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(new URL(route, baseUrl), {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Reads until `check` holds; gives up (throws, with the last value) after `boundMs`. */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  boundMs = 60_000,
): Promise<T> {
  const giveUpAt = Date.now() + boundMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > giveUpAt) throw new Error(`condition not met; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The answer of `POST /commands?summary=true`. */
export interface SubmitSummary {
  commands: Array<{ request_id: number; orders: number }>;
}

/**
 * Submits one `restart` of `target` (from `Users/Services` as `tester`, timeout 300 s, with `extra` over
 * it) through the sidecar's API, as the holder of `token`; the answer is the summary.
 */
export function submitRestart(
  baseUrl: string,
  token: string,
  target: { type: string; id: string },
  extra: Record<string, unknown> = {},
): Promise<{ status: number; body: SubmitSummary }> {
  return callApi<SubmitSummary>(baseUrl, token, 'POST', '/_plugins/_command_manager/commands?summary=true', {
    commands: [
      {
        source: 'Users/Services',
        user: 'tester',
        target,
        action: { name: 'restart', args: {} },
        timeout: 300,
        ...extra,
      },
    ],
  });
}
