/**
 * Runs the request store's retention (expired idempotency keys and request records) once at start and then
 * every `scheduler.retentionIntervalMs`, in every sidecar whether or not it dispatches: a delete repeated by
 * two sidecars is harmless, so no lock is needed.
 */
import { RequestRetention, type Logger, type RequestStore } from '@command-manager/core';
import type { SidecarConfig } from './config/sidecar-config';

export interface RequestRetentionTimer {
  /** Clears the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

export function startRequestRetention(
  requests: RequestStore,
  config: SidecarConfig,
  logger: Logger,
): RequestRetentionTimer {
  const retention = new RequestRetention({
    requests,
    idempotencyRetentionMs: config.limits.idempotencyRetentionMs,
    requestRetentionMs: config.limits.requestRetentionMs,
    logger,
  });
  let running: Promise<unknown> = Promise.resolve();
  const tick = (): void => {
    running = running.then(() =>
      retention.run().catch((e: unknown) => {
        logger.warn('request retention failed; retried at the next interval', {
          error: e instanceof Error ? e.message : String(e),
        });
      }),
    );
  };
  tick();
  const timer = setInterval(tick, config.scheduler.retentionIntervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
