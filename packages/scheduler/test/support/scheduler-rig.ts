/**
 * The set-up of the integration tests that run schedulers against real OpenSearch and a stub Management
 * API: the per-file stores, a fresh stub for each test, and the schedulers a test started stopped (and their
 * clients closed) after it. Call it at the top of a test file: it registers the hooks.
 */
import type { ManagementApiClient, Scheduler } from '@command-manager/scheduler';
import { openSearchFixture, type OpenSearchFixture } from './opensearch-fixture';
import { StubManagementApi } from './stub-management-api';

export interface SchedulerRig {
  os: OpenSearchFixture;
  /** The stub Management API of the running test. */
  readonly stub: StubManagementApi;
  /** Stops `scheduler` and closes `client` after the test. */
  track(scheduler: Scheduler, client: ManagementApiClient): void;
}

export function schedulerRig(file: string): SchedulerRig {
  const os = openSearchFixture(file);
  let stub: StubManagementApi | undefined;
  const running: Array<{ scheduler: Scheduler; client: ManagementApiClient }> = [];

  beforeEach(async () => {
    stub = await StubManagementApi.start();
  });

  afterEach(async () => {
    for (const r of running.splice(0)) {
      await r.scheduler.stop();
      await r.client.close();
    }
    await stub?.close();
  });

  afterAll(async () => {
    await os.close();
  });

  return {
    os,
    get stub(): StubManagementApi {
      if (!stub) throw new Error('the stub Management API runs only inside a test');
      return stub;
    },
    track: (scheduler, client) => running.push({ scheduler, client }),
  };
}
