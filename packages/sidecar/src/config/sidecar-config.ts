/**
 * The typed view of the validated configuration (see settings.ts for meanings and defaults).
 * A unit test checks that every setting's key is present here after loading, so the two cannot drift.
 */
export interface SidecarConfig {
  readonly nodeId: string;
  readonly opensearch: {
    readonly url?: string;
    readonly username?: string;
    readonly password?: string;
    readonly caFile?: string;
    readonly certFile?: string;
    readonly keyFile?: string;
    readonly requestTimeoutMs: number;
    readonly maxResponseBytes: number;
  };
  readonly indices: {
    readonly orders: string;
    readonly agents: string;
    readonly agentsSearchSize: number;
    readonly shards: number;
    readonly replicas: number;
  };
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    readonly trustedProxies: readonly string[];
    readonly readyCacheMs: number;
    readonly console: boolean;
    readonly events: {
      readonly intervalMs: number;
      readonly heartbeatMs: number;
      readonly maxStreams: number;
      readonly maxStreamsPerCaller: number;
    };
    readonly tls?: { readonly certFile?: string; readonly keyFile?: string; readonly clientCaFile?: string };
  };
  readonly audit: {
    readonly retentionMs: number;
    readonly flushIntervalMs: number;
    readonly maxBatch: number;
    readonly maxQueued: number;
    readonly maxQueuedBytes: number;
  };
  readonly auth: {
    readonly usersFile?: string;
    readonly failedLoginWindowMs: number;
    readonly maxFailedLoginsPerUser: number;
    readonly maxFailedLoginsPerAddress: number;
    readonly maxFailedPasswordsPerAddress: number;
    readonly maxTrackedLoginClients: number;
    readonly maxConcurrentVerifications: number;
    readonly maxQueuedVerifications: number;
    readonly maxVerificationsPerAddress: number;
  };
  readonly limits: {
    readonly maxBatchCommands: number;
    readonly maxFanOut: number;
    readonly maxArgsBytes: number;
    readonly maxRequestWriteBytes: number;
    readonly maxTargetAgents: number;
    readonly maxExcludeAgents: number;
    readonly maxResultsPerReport: number;
    readonly maxResultDataBytes: number;
    readonly staleWriteMs: number;
    readonly idempotencyReservationTtlMs: number;
    readonly idempotencyRetentionMs: number;
    readonly requestRetentionMs: number;
  };
  readonly actions: {
    readonly permissive: boolean;
    readonly definitionsFile?: string;
    readonly updateServerIds: readonly string[];
  };
  readonly scheduler: {
    readonly enabled: boolean;
    readonly delivery: 'push' | 'pull';
    readonly maxClaimWaiters: number;
    readonly managementApiUrl?: string;
    readonly auth: {
      readonly type: 'none' | 'basic' | 'bearer' | 'wazuh-jwt';
      readonly username?: string;
      readonly password?: string;
      readonly token?: string;
    };
    readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
    readonly pollIntervalMs: number;
    readonly batchSize: number;
    readonly deliveryMaxBytes: number;
    readonly concurrency: number;
    readonly leaseMs: number;
    readonly partitions: number;
    readonly searchLagMs: number;
    readonly searchLagMaxOrders: number;
    readonly requestTimeoutMs: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    readonly breakerFailureThreshold: number;
    readonly breakerOpenMs: number;
    readonly clockSkewMaxMs: number;
    readonly clockSkewCheckIntervalMs: number;
    readonly offlineAgentStatuses: readonly string[];
    readonly membershipPollIntervalMs: number;
    readonly membershipMaxRequests: number;
    readonly retentionMs: number;
    readonly retentionMode: 'archive' | 'delete';
    readonly retentionIntervalMs: number;
    readonly shutdownTimeoutMs: number;
  };
  readonly log: { readonly level: 'error' | 'warn' | 'info' | 'debug' };
}
