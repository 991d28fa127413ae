/**
 * Wraps a store port (every method returns a promise) for one simulated process: each call waits a simulated
 * latency each way, may fail before it is applied or lose its answer after, and never ends once the process
 * is killed. Whatever the port is, the in-memory twin behind it applies the call atomically at one instant of
 * simulated time, as the indexer applies one request.
 */
import type { FaultRates } from './faults';
import type { Prng } from './prng';
import type { SimLoop } from './sim-loop';
import { never } from './sim-process';
import type { SimProcess } from './sim-process';
import type { Trace } from './trace';

export class SimStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimStoreError';
  }
}

export interface StoreIo {
  loop: SimLoop;
  prng: Prng;
  faults: FaultRates;
  trace: Trace;
}

function latency(io: StoreIo): number {
  const f = io.faults;
  if (io.prng.chance(f.storeSlowChance)) return f.storeSlowMs;
  return io.prng.between(f.storeLatencyMs[0], f.storeLatencyMs[1]);
}

/** One call of `proc` to the store through `io`'s faults. */
export async function storeCall<T>(
  io: StoreIo,
  proc: SimProcess,
  name: string,
  op: () => Promise<T>,
  faulty = true,
): Promise<T> {
  await io.loop.sleep(latency(io));
  if (!proc.alive) return never();
  if (faulty && io.prng.chance(io.faults.storeErrorBefore)) {
    io.trace.add('store-error', `${proc.id} ${name} refused`);
    throw new SimStoreError(`${name}: store unavailable`);
  }
  const result = await op();
  await io.loop.sleep(latency(io));
  if (!proc.alive) return never();
  if (faulty && io.prng.chance(io.faults.storeErrorAfter)) {
    io.trace.add('store-error', `${proc.id} ${name} answer lost`);
    throw new SimStoreError(`${name}: answer lost`);
  }
  return result;
}

/**
 * `port` as `proc` sees it through `io`. `faulty: false` keeps the latency and the kill but no errors (the
 * simulated Management API's own writes).
 */
export function faultyPort<T extends object>(port: T, proc: SimProcess, io: StoreIo, faulty = true): T {
  return new Proxy(port, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      const name = String(key);
      return (...args: unknown[]) =>
        storeCall(
          io,
          proc,
          name,
          () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args),
          faulty,
        );
    },
  });
}
