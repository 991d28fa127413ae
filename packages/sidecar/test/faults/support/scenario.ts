/**
 * The set-up most fault scenarios share, started in their `beforeAll` and torn down in their `afterAll`: a
 * users file, the scenario's own indices with one group of agents, and the reference Management API
 * (examples/management-api) behind a fault proxy. A start that fails part-way releases what it had already
 * started before it rethrows, so that an `afterAll` only ever has whole scenarios to tear down.
 */
import { startManagementApi } from '../../../../../examples/management-api/src';
import type { ManagementApiHandle } from '../../../../../examples/management-api/src';
import { FaultProxy } from './fault-proxy';
import type { FaultProxyOptions } from './fault-proxy';
import { faultIndices, writeUsersFile } from './fixtures';
import type { FaultIndices, UsersFixture } from './fixtures';
import { killAllSidecars } from './sidecar-process';

/** A users file and the scenario's indices. */
export interface ScenarioStore {
  users: UsersFixture;
  indices: FaultIndices;
}

/** The Management API stub and the fault proxy the sidecars are pointed at. */
export interface ProxiedManagementApi {
  stub: ManagementApiHandle;
  proxy: FaultProxy;
}

export type FaultScenario = ScenarioStore & ProxiedManagementApi;

export interface ScenarioStoreOptions {
  /** The test file (`__filename`): it names the indices' prefix. */
  file: string;
  opensearchUrl: string;
  /** The agents group to seed, and how many agents it holds. */
  group: string;
  agents: number;
}

export interface ReleaseOptions {
  /** False when the node is the test's own and goes with its indices: only the client is closed. */
  deleteIndices?: boolean;
}

/** Writes the users file and seeds the scenario's agents index with `agents` agents in `group`. */
export async function startScenarioStore(
  options: ScenarioStoreOptions & ReleaseOptions,
): Promise<ScenarioStore> {
  const users = await writeUsersFile();
  const indices = faultIndices(options.file, options.opensearchUrl);
  try {
    await indices.seedGroup(options.group, options.agents);
  } catch (e) {
    await release({ users, indices }, options);
    throw e;
  }
  return { users, indices };
}

/** Starts the Management API stub on a free port and a fault proxy in front of it (HTTPS with `tls`). */
export async function startProxiedManagementApi(
  tls?: FaultProxyOptions['tls'],
): Promise<ProxiedManagementApi> {
  const stub = await startManagementApi({ port: 0 });
  try {
    const proxy = await FaultProxy.start({ target: stub.url, ...(tls !== undefined && { tls }) });
    return { stub, proxy };
  } catch (e) {
    await release({ stub });
    throw e;
  }
}

/** `startScenarioStore`, then `startProxiedManagementApi` (plain HTTP). */
export async function startFaultScenario(
  options: ScenarioStoreOptions & ReleaseOptions,
): Promise<FaultScenario> {
  const store = await startScenarioStore(options);
  try {
    return { ...store, ...(await startProxiedManagementApi()) };
  } catch (e) {
    await release(store, options);
    throw e;
  }
}

/**
 * For `afterAll`, whatever happened: kills every sidecar this worker started, then closes the proxy and the
 * stub, deletes the indices (see `deleteIndices`) and removes the users file, skipping what was never started.
 */
export async function stopFaultScenario(
  scenario: Partial<FaultScenario>,
  options: ReleaseOptions = {},
): Promise<void> {
  await killAllSidecars();
  await release(scenario, options);
}

async function release(parts: Partial<FaultScenario>, options: ReleaseOptions = {}): Promise<void> {
  await parts.proxy?.close();
  await parts.stub?.close();
  if (options.deleteIndices === false) await parts.indices?.client.close();
  else await parts.indices?.close();
  parts.users?.dispose();
}
