export interface Readiness {
  ready: boolean;
  /** Named checks, e.g. `{ opensearch: true, templates: false }`. */
  checks: Record<string, boolean>;
}

/**
 * Reuses a readiness verdict for `ttlMs` and shares one check among concurrent probes, so that
 * unauthenticated `/ready` hits cost at most one check (OpenSearch calls) per period however often they come.
 * A check that throws counts as "not ready" and is cached like any other verdict.
 */
export function cachedReadiness(
  check: () => Promise<Readiness>,
  ttlMs: number,
  nowMs: () => number = () => performance.now(),
  onError: (e: unknown) => void = () => undefined,
): () => Promise<Readiness> {
  let last: { state: Readiness; atMs: number } | undefined;
  let running: Promise<Readiness> | undefined;
  return () => {
    if (last && ttlMs > 0 && nowMs() - last.atMs < ttlMs) return Promise.resolve(last.state);
    running ??= (async () => {
      let state: Readiness;
      try {
        state = await check();
      } catch (e) {
        onError(e);
        state = { ready: false, checks: {} };
      }
      last = { state, atMs: nowMs() };
      return state;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
}
