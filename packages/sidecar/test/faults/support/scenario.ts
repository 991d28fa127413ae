/**
 * The set-up most fault scenarios share, started in their `beforeAll` and torn down in their `afterAll`: a
 * users file, the scenario's own indices with one group of agents, and the reference Management API
 * (examples/management-api) behind a fault proxy. A start that fails part-way releases what it had already
 * started before it rethrows, so that an `afterAll` only ever has whole scenarios to tear down.
 */
import { startManagementApi } from '@command-manager-examples/management-api';
import type { ManagementApiHandle } from '@command-manager-examples/management-api';
import { opensearchUrl } from '@command-manager/test-support';
import { FaultProxy } from './fault-proxy';
import type { FaultProxyOptions } from './fault-proxy';
import { faultIndices, sidecarEnv, writeUsersFile } from './fixtures';
import type { FaultIndices, UsersFixture } from './fixtures';
import { killAllSidecars, startSidecar } from './sidecar-process';
import type { SidecarProcess } from './sidecar-process';

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

/** A fault scenario with one sidecar, as `oneSidecarScenario` holds it once `beforeAll` has run. */
export interface OneSidecarScenario extends FaultScenario {
  sidecar: SidecarProcess;
}

/**
 * Registers the `beforeAll` and `afterAll` of a scenario with one sidecar against the shared OpenSearch: the
 * fault scenario of `options`, then one sidecar named `name` pointed at the fault proxy, configured with
 * `extra` over `sidecarEnv`'s variables. `after` runs once the scenario is torn down. The parts are readable
 * from the returned object inside the tests.
 */
export function oneSidecarScenario(
  options: Omit<ScenarioStoreOptions, 'opensearchUrl'> & {
    name: string;
    extra: Record<string, string>;
    after?: () => void;
  },
): OneSidecarScenario {
  const parts: Partial<OneSidecarScenario> = {};
  const part = <K extends keyof OneSidecarScenario>(key: K): OneSidecarScenario[K] => {
    const value = parts[key];
    if (value === undefined) throw new Error(`the scenario's ${key} is not started`);
    return value as OneSidecarScenario[K];
  };
  beforeAll(async () => {
    Object.assign(
      parts,
      await startFaultScenario({
        file: options.file,
        opensearchUrl: opensearchUrl(),
        group: options.group,
        agents: options.agents,
      }),
    );
    parts.sidecar = await startSidecar({
      name: options.name,
      env: sidecarEnv({
        opensearchUrl: opensearchUrl(),
        indices: part('indices'),
        usersFile: part('users').file,
        managementApiUrl: part('proxy').url,
        extra: options.extra,
      }),
    });
  }, 120_000);
  afterAll(async () => {
    await stopFaultScenario(parts);
    options.after?.();
  }, 60_000);
  return {
    get users() {
      return part('users');
    },
    get indices() {
      return part('indices');
    },
    get stub() {
      return part('stub');
    },
    get proxy() {
      return part('proxy');
    },
    get sidecar() {
      return part('sidecar');
    },
  };
}
