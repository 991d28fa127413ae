/**
 * What can go wrong in a run, and how often. `defaultFaults` is the CI sweep's mix; every figure is drawn
 * from the run's one `Prng`.
 */
export interface FaultRates {
  /** Latency of one store call, each way (ms): uniform in [min, max], and `slowChance` of them `slowMs`. */
  storeLatencyMs: readonly [number, number];
  storeSlowChance: number;
  storeSlowMs: number;
  /** A store call fails before it is applied (the store refused it). */
  storeErrorBefore: number;
  /** A store call is applied but its answer is lost (unknown outcome). */
  storeErrorAfter: number;
  /** Latency of a Management API call, each way (ms). */
  apiLatencyMs: readonly [number, number];
  /** A Management API request or answer lost on the way (the caller times out). */
  apiDrop: number;
  /** The Management API answers 503 for a whole batch. */
  apiUnavailable: number;
  /** An order the Management API rejects. */
  apiReject: number;
  /** An agent that never answers (its sent orders end at their deadline). */
  agentSilent: number;
  /** An agent that reports a failure. */
  agentFailure: number;
  /** Delay between acceptance and the agent's result (ms). */
  agentResultMs: readonly [number, number];
  /** Kills per sidecar per simulated minute (each followed by a restart after `restartMs`). */
  killsPerMinute: number;
  restartMs: readonly [number, number];
  /** Sidecars joining and leaving per simulated minute (all sidecars together). */
  joinsPerMinute: number;
  leavesPerMinute: number;
  /** Wall-clock offset of each machine from the indexer's (ms, either way): NTP keeps most within `syncedMs`. */
  syncedMs: number;
  /** The share of machines whose clock is off by up to `skewMs` instead. */
  skewedShare: number;
  skewMs: number;
  /** Wall-clock jumps per sidecar per simulated minute, up to `jumpMs` either way, undone after `jumpForMs`. */
  jumpsPerMinute: number;
  jumpMs: number;
  jumpForMs: readonly [number, number];
}

export const defaultFaults: FaultRates = Object.freeze({
  storeLatencyMs: [1, 20] as const,
  storeSlowChance: 0.01,
  storeSlowMs: 1500,
  storeErrorBefore: 0.01,
  storeErrorAfter: 0.005,
  apiLatencyMs: [2, 150] as const,
  apiDrop: 0.01,
  apiUnavailable: 0.02,
  apiReject: 0.01,
  agentSilent: 0.02,
  agentFailure: 0.05,
  agentResultMs: [100, 5000] as const,
  killsPerMinute: 0.5,
  restartMs: [500, 15_000] as const,
  joinsPerMinute: 0.5,
  leavesPerMinute: 0.3,
  syncedMs: 2000,
  skewedShare: 0.2,
  skewMs: 60_000,
  jumpsPerMinute: 0.5,
  jumpMs: 120_000,
  jumpForMs: [5000, 90_000] as const,
});
