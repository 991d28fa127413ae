/**
 * A scheduler in its own process, for the SIGKILL test. Configured by environment variables:
 * OPENSEARCH_URL, ORDERS_INDEX, STUB_URL, OWNER, LEASE_MS (its partition leases), PARTITIONS. Prints
 * `started` when its loop runs.
 */
import {
  createOpenSearchClient,
  OpenSearchLockStore,
  OpenSearchOrderStore,
  OpenSearchPartitionLeaseStore,
  OpenSearchRequestStore,
} from '@command-manager/opensearch';
import { ManagementApiClient, PartitionLeaseManager, Scheduler } from '@command-manager/scheduler';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

// A secured test node: the sidecar user's credentials and CA come from the environment.
const {
  OPENSEARCH_USERNAME: username,
  OPENSEARCH_PASSWORD: password,
  OPENSEARCH_CA_FILE: caFile,
} = process.env;
const client = createOpenSearchClient({
  node: env('OPENSEARCH_URL'),
  ...(username && { auth: { username, password: password ?? '' } }),
  ...(caFile && { caFile }),
});
const common = { client, ordersIndex: env('ORDERS_INDEX'), replicas: 0 };
const delivery = new ManagementApiClient({ managementApiUrl: env('STUB_URL'), requestTimeoutMs: 600_000 });
const partitions = new PartitionLeaseManager({
  store: new OpenSearchPartitionLeaseStore(common),
  owner: env('OWNER'),
  options: { partitions: Number(env('PARTITIONS')), leaseMs: Number(env('LEASE_MS')) },
});
partitions.start();
const scheduler = new Scheduler({
  partitions,
  orders: new OpenSearchOrderStore(common),
  requests: new OpenSearchRequestStore(common),
  locks: new OpenSearchLockStore(common),
  delivery,
  owner: env('OWNER'),
  options: { batchSize: 1000, pollIntervalMs: 200 },
});
scheduler.start();
process.stdout.write('started\n');
