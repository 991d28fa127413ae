import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@opensearch-project/opensearch';
import {
  ActionRegistry,
  CommandService,
  RequestRetention,
  defaultRetryPolicy,
  type Logger,
} from '@command-manager/core';
import {
  createAuthenticator,
  createApp,
  listen,
  maxHeaderSizeFor,
  loadUsersFile,
  RequestEventStreams,
  type AuthConfig,
} from '@command-manager/express';
import {
  OpenSearchAgentDirectory,
  OpenSearchAuditLog,
  OpenSearchLockStore,
  OpenSearchLiveMembershipStore,
  OpenSearchOrderStore,
  OpenSearchPartitionLeaseStore,
  OpenSearchRequestIdAllocator,
  OpenSearchRequestStore,
  OpenSearchServerTime,
  OpenSearchSetup,
  opensearchReadiness,
} from '@command-manager/opensearch';
import {
  AgentDirectoryPresence,
  ClockSkewGuard,
  MaintenanceRunner,
  MembershipPoller,
  ManagementApiClient,
  PartitionLeaseManager,
  PullDelivery,
  Scheduler,
  SCHEDULER_DEFAULTS,
  type ManagementApiAuth,
  type SchedulerMetrics,
} from '@command-manager/scheduler';
import type { SidecarConfig } from './config/sidecar-config';
import { opensearchClientFromConfig } from './opensearch-client-from-config';
import { pushDeliveryOff } from './push-delivery-off';
import { createSidecarMetrics } from './sidecar-metrics';

export interface RunningSidecar {
  /** Base URL of the API, e.g. `http://127.0.0.1:8080`. */
  url: string;
  server: Server;
  scheduler: Scheduler | undefined;
  /** Set when `scheduler.delivery` is `pull`. */
  pull: PullDelivery | undefined;
  client: Client;
  /** Graceful stop: stop accepting, let the scheduler finish or release in-flight work, close. Idempotent. */
  stop(): Promise<void>;
}

function pem(file: string | undefined): Buffer | undefined {
  return file === undefined ? undefined : readFileSync(file);
}

function managementAuth(config: SidecarConfig['scheduler']['auth']): ManagementApiAuth {
  switch (config.type) {
    case 'basic':
      return { type: 'basic', username: config.username ?? '', password: config.password ?? '' };
    case 'bearer':
      return { type: 'bearer', token: config.token ?? '' };
    case 'wazuh-jwt':
      return { type: 'jwt', username: config.username ?? '', password: config.password ?? '' };
    default:
      return { type: 'none' };
  }
}

/** The console package (its `static/` and built `dist/`): same depth from this package's `src/` and `dist/`. */
const CONSOLE_DIR = path.resolve(__dirname, '..', '..', 'console');

/** No users file: an empty configuration, so every call but /health, /ready and /openapi.json is refused. */
const NO_USERS: AuthConfig = { roles: {}, users: [], tokens: [], certificates: [] };

/**
 * The composition root: wires core, the OpenSearch adapter, the HTTP app and the scheduler from a validated
 * configuration. `opensearchUrl` is the resolved URL (the configured one, or a local node started for the
 * quick start).
 */
export async function startSidecar(
  config: SidecarConfig,
  opensearchUrl: string,
  logger: Logger,
): Promise<RunningSidecar> {
  const client = opensearchClientFromConfig(config.opensearch, opensearchUrl);
  const indexOptions = {
    client,
    ordersIndex: config.indices.orders,
    shards: config.indices.shards,
    replicas: config.indices.replicas,
    partitions: config.scheduler.partitions,
    logger,
  };
  const setup = new OpenSearchSetup(indexOptions);
  await setup.ensure();
  // The count recorded on the orders index at its creation, whatever this sidecar's configuration says.
  const partitionCount = setup.partitions;
  // Saves do not wait for a refresh (the scheduler claims a submission's orders by id, which is real time).
  // Claims do not force one either: the store leaves its own unrefreshed leases out of its next searches (an
  // ids exclusion), where a forced refresh per claim cost a fifth of the dispatch rate (docs/benchmarks.md,
  // (d)). Other transitions (results, cancels, sweeps) force one, so progress reads see them at once. The
  // scheduler's verdicts and lease renewals ask for none.
  const orders = new OpenSearchOrderStore({
    ...indexOptions,
    saveRefresh: false,
    writeRefresh: true,
    claimRefresh: false,
    // How long its own unrefreshed leases stay out of its claim searches: the lag the scheduler allows for.
    searchLagMs: config.scheduler.searchLagMs,
    maxResponseBytes: config.opensearch.maxResponseBytes,
  });
  // Submissions write small commands' orders with their records in one bulk: same refresh as saveOrders.
  const requests = new OpenSearchRequestStore({
    ...indexOptions,
    ordersRefresh: false,
    maxResponseBytes: config.opensearch.maxResponseBytes,
  });
  const locks = new OpenSearchLockStore(indexOptions);
  const ids = new OpenSearchRequestIdAllocator(indexOptions);
  // Moves the id counter above any request id already stored (e.g. after the requests index was lost).
  await ids.init();
  const audit = new OpenSearchAuditLog({
    client,
    index: setup.layout.audit,
    sidecar: config.nodeId,
    ...config.audit,
    logger: logger.child({ component: 'audit' }),
  });
  await audit.init();
  const agents = new OpenSearchAgentDirectory({
    client,
    agentsIndex: config.indices.agents,
    walkSearchSize: config.indices.agentsSearchSize,
    maxResponseBytes: config.opensearch.maxResponseBytes,
    logger,
  });
  const live = new OpenSearchLiveMembershipStore(indexOptions);

  const registry = ActionRegistry.withDefaults({
    permissive: config.actions.permissive,
    updateServerIds: [...config.actions.updateServerIds],
    ...(config.actions.definitionsFile !== undefined && {
      definitions: JSON.parse(readFileSync(config.actions.definitionsFile, 'utf8')) as unknown,
    }),
  });

  const sidecarMetrics = createSidecarMetrics(registry.names());
  let scheduler: Scheduler | undefined;
  let pull: PullDelivery | undefined;
  let partitionLeases: PartitionLeaseManager | undefined;
  const sched = config.scheduler;
  const dispatching = sched.enabled && (sched.delivery === 'pull' || sched.managementApiUrl !== undefined);
  const schedulerMetrics = dispatching ? sidecarMetrics.scheduler() : undefined;
  // This clock is compared with the indexer's before anything is written, and then on a timer: beyond the
  // bound, order times are written and compared on the indexer's time, and no deadline is judged here
  // (see `clock-skew.ts`).
  const clockSkew = new ClockSkewGuard({
    server: new OpenSearchServerTime(client),
    logger: logger.child({ component: 'clock-skew' }),
    ...(schedulerMetrics && { metrics: schedulerMetrics }),
    options: { maxSkewMs: sched.clockSkewMaxMs, checkIntervalMs: sched.clockSkewCheckIntervalMs },
  });
  await clockSkew.start();
  const clock = clockSkew.indexerClock();
  const service = new CommandService({
    clock,
    orders,
    requests,
    ids,
    agents,
    registry,
    logger: logger.child({ component: 'core' }),
    limits: config.limits,
    indexName: config.indices.orders,
    partitions: partitionCount,
    onOrdersWritten: (written) => {
      scheduler?.wake(written);
      pull?.wake(written);
    },
  });

  const maintenanceOptions = {
    retentionMs: sched.retentionMs,
    retentionMode: sched.retentionMode,
    retentionIntervalMs: sched.retentionIntervalMs,
  };
  const schedulerOptions = {
    ...maintenanceOptions,
    pollIntervalMs: sched.pollIntervalMs,
    batchSize: sched.batchSize,
    concurrency: sched.concurrency,
    searchLagMs: sched.searchLagMs,
    searchLagMaxOrders: sched.searchLagMaxOrders,
    shutdownTimeoutMs: sched.shutdownTimeoutMs,
    retryPolicy: { ...defaultRetryPolicy, baseMs: sched.retryBaseMs, maxMs: sched.retryMaxMs },
    deliveryMaxBytes: sched.deliveryMaxBytes,
  };
  const requestRetention = new RequestRetention({
    requests,
    idempotencyRetentionMs: config.limits.idempotencyRetentionMs,
    requestRetentionMs: config.limits.requestRetentionMs,
    logger,
  });
  // Every sidecar runs request retention and the stale-write check, whether or not it dispatches; one that
  // dispatches also runs the deadline sweep and order retention, with its scheduler's metrics.
  const maintenanceRunner = (metrics?: SchedulerMetrics): MaintenanceRunner =>
    new MaintenanceRunner({
      owner: config.nodeId,
      clock,
      requestRetention,
      auditRetention: { run: () => audit.removeExpired() },
      ...(metrics && { clockSkew }),
      // Requests whose writer died mid fan-out (a killed sidecar) are marked partial by whichever sidecar
      // looks first; the orders that were stored are dispatched like any other.
      staleWrites: { check: () => service.markStaleWrites(), intervalMs: config.limits.staleWriteMs / 2 },
      // Any sidecar may give live groups' joiners their orders; the `membership` lock runs one at a time.
      membership: new MembershipPoller({
        owner: config.nodeId,
        live,
        orders,
        agents,
        locks,
        clock,
        logger: logger.child({ component: 'membership', owner: config.nodeId }),
        onOrdersWritten: () => {
          scheduler?.wake();
          pull?.wake(undefined);
        },
        options: {
          intervalMs: sched.membershipPollIntervalMs,
          maxRequests: sched.membershipMaxRequests,
          maxOrdersPerRequest: config.limits.maxFanOut,
          partitions: partitionCount,
        },
      }),
      ...(metrics && { stores: { orders, locks }, metrics }),
      agents: new AgentDirectoryPresence(agents, sched.offlineAgentStatuses),
      logger: logger.child({ component: 'maintenance', owner: config.nodeId }),
      options: maintenanceOptions,
    });
  let maintenance: MaintenanceRunner | undefined;
  if (!sched.enabled) {
    logger.info('scheduler disabled by configuration: orders are stored but not dispatched by this sidecar');
  } else if (sched.delivery === 'pull') {
    // Servers claim orders; this sidecar pushes nothing but keeps deadlines, retention and rollout control.
    if (sched.managementApiUrl !== undefined) {
      logger.warn('scheduler.delivery is pull: scheduler.managementApiUrl is ignored');
    }
    const metrics = schedulerMetrics ?? sidecarMetrics.scheduler();
    maintenance = maintenanceRunner(metrics);
    const pullScheduler = new Scheduler({
      orders,
      requests,
      locks,
      delivery: pushDeliveryOff,
      owner: config.nodeId,
      clock,
      clockSkew,
      logger: logger.child({ component: 'scheduler' }),
      metrics,
      maintenance,
      options: { ...schedulerOptions, mode: 'pull' },
    });
    scheduler = pullScheduler;
    pull = new PullDelivery({
      orders,
      clock: clockSkew.serverClock(),
      admission: pullScheduler,
      logger,
      metrics,
      options: {
        pollIntervalMs: sched.pollIntervalMs,
        maxWaiters: sched.maxClaimWaiters,
        maxAnswerBytes: sched.deliveryMaxBytes,
      },
    });
  } else if (sched.managementApiUrl === undefined) {
    logger.warn(
      'scheduler.managementApiUrl is not set: this sidecar does not dispatch orders (they stay pending)',
    );
  } else {
    const metrics = schedulerMetrics ?? sidecarMetrics.scheduler();
    const tls = sched.tls ?? {};
    const delivery = new ManagementApiClient({
      managementApiUrl: sched.managementApiUrl,
      auth: managementAuth(sched.auth),
      tls: {
        ...(tls.caFile !== undefined && { ca: pem(tls.caFile) }),
        ...(tls.certFile !== undefined && { cert: pem(tls.certFile) }),
        ...(tls.keyFile !== undefined && { key: pem(tls.keyFile) }),
      },
      requestTimeoutMs: sched.requestTimeoutMs,
      // Room for every call `scheduler.concurrency` allows in flight, so that none waits for a connection.
      maxConnections: Math.max(SCHEDULER_DEFAULTS.maxConnections, sched.concurrency),
      breaker: { failureThreshold: sched.breakerFailureThreshold, openMs: sched.breakerOpenMs },
      logger: logger.child({ component: 'delivery' }),
      metrics,
    });
    maintenance = maintenanceRunner(metrics);
    partitionLeases = new PartitionLeaseManager({
      store: new OpenSearchPartitionLeaseStore(indexOptions),
      owner: config.nodeId,
      logger,
      options: { partitions: partitionCount, leaseMs: sched.leaseMs },
    });
    scheduler = new Scheduler({
      orders,
      requests,
      locks,
      delivery,
      owner: config.nodeId,
      clock,
      partitions: partitionLeases,
      clockSkew,
      logger: logger.child({ component: 'scheduler' }),
      metrics,
      maintenance,
      options: schedulerOptions,
    });
  }
  maintenance ??= maintenanceRunner();

  const authConfig =
    config.auth.usersFile !== undefined ? await loadUsersFile(config.auth.usersFile) : NO_USERS;
  if (config.auth.usersFile === undefined) {
    logger.warn(
      'auth.usersFile is not set: every API call except /health, /ready and /openapi.json is refused',
    );
  }
  // The console is served once built (`pnpm build` compiles its modules next to its page).
  const consoleBuilt = existsSync(path.join(CONSOLE_DIR, 'dist', 'main.js'));
  const consoleDir = config.http.console && consoleBuilt ? CONSOLE_DIR : undefined;
  if (config.http.console && !consoleBuilt) {
    logger.warn('http.console is on but the console is not built (pnpm build): /console/ is not served');
  }
  const requestEvents = new RequestEventStreams(
    (id) => service.getRequest(id),
    config.http.events,
    logger.child({ component: 'events' }),
  );
  const app = createApp({
    api: service,
    requestEvents,
    audit,
    auth: createAuthenticator(authConfig, {
      logger: logger.child({ component: 'auth' }),
      rateLimit: {
        windowMs: config.auth.failedLoginWindowMs,
        maxFailures: config.auth.maxFailedLoginsPerAddress,
        maxFailuresPerIdentity: config.auth.maxFailedLoginsPerUser,
        maxPasswordFailuresPerAddress: config.auth.maxFailedPasswordsPerAddress,
        maxEntries: config.auth.maxTrackedLoginClients,
      },
      verification: {
        maxConcurrent: config.auth.maxConcurrentVerifications,
        maxQueued: config.auth.maxQueuedVerifications,
        maxPerAddress: config.auth.maxVerificationsPerAddress,
      },
    }),
    trustProxy: config.http.trustedProxies,
    readyCacheMs: config.http.readyCacheMs,
    metrics: sidecarMetrics.http,
    logger: logger.child({ component: 'http' }),
    limits: { bodyLimitBytes: config.http.bodyLimitBytes },
    ...(pull && { pull }),
    ...(consoleDir !== undefined && { consoleDir }),
    readiness: async () => {
      const { ready, checks } = await opensearchReadiness(
        client,
        config.indices.orders,
        setup.layout.templates.orders,
      );
      return { ready, checks: { ...checks } };
    },
  });

  const tls = config.http.tls;
  const server = await listen(app, {
    port: config.http.port,
    host: config.http.host,
    maxHeaderSize: maxHeaderSizeFor(config.limits.maxBatchCommands),
    ...(tls?.certFile !== undefined &&
      tls.keyFile !== undefined && {
        tls: {
          cert: readFileSync(tls.certFile),
          key: readFileSync(tls.keyFile),
          ...(tls.clientCaFile !== undefined && { ca: readFileSync(tls.clientCaFile) }),
        },
      }),
  });
  partitionLeases?.start();
  scheduler?.start();
  const address = server.address() as AddressInfo;
  const scheme = tls?.certFile !== undefined ? 'https' : 'http';
  const url = `${scheme}://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${address.port}`;
  logger.info('command manager ready', { url, ordersIndex: config.indices.orders, nodeId: config.nodeId });

  // Without a scheduler nothing has started it yet; a scheduler started the runner it was given (idempotent).
  maintenance.start();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await maintenance.stop();
      // Open event streams would hold their connections (and `server.close`) open: end them; their
      // clients resume on another sidecar with Last-Event-ID.
      requestEvents.closeAll();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Waiting claims answer now (empty), so that their connections close.
      pull?.stop();
      await scheduler?.stop();
      // Released leases are taken by the other sidecars at once, not after a lease period.
      await partitionLeases?.stop();
      clockSkew.stop();
      await closed;
      // What the last calls queued is written before the client closes.
      await audit.close();
      await client.close();
      logger.info('command manager stopped');
    })();
    return stopping;
  };
  return { url, server, scheduler, pull, client, stop };
}
