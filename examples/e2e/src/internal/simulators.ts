import { setMaxListeners } from 'node:events';
import { runAgents, type AgentsReport } from '@command-manager-examples/agents';

export interface Simulators {
  /** Stops polling, lets the orders received be reported, and resolves with each simulator's report. */
  stop(): Promise<AgentsReport[]>;
}

/**
 * The agents of a run: `succeeding` agents (`<okPrefix>000001` …) that report `success` and `failing` agents
 * (`<failPrefix>000001` …) that report `failure` for every order, all polling the Comms API at `commsUrl`;
 * with `offline`, agents `<prefix>000001` … that never poll; with `late`, agents that start polling (and
 * report `success`) only after `afterMs`, once `onStart` has registered them.
 */
export function startSimulators(options: {
  commsUrl: string;
  succeeding: number;
  failing: number;
  okPrefix: string;
  failPrefix: string;
  offline?: { count: number; prefix: string };
  late?: {
    count: number;
    prefix: string;
    afterMs: number;
    onStart: (agentIds: string[]) => Promise<void>;
  };
}): Simulators {
  const stop = new AbortController();
  // Every simulated agent's poll listens to this one signal.
  setMaxListeners(0, stop.signal);
  const runs: Array<Promise<AgentsReport>> = [];
  if (options.succeeding > 0) {
    runs.push(
      runAgents({
        commsUrl: options.commsUrl,
        count: options.succeeding,
        prefix: options.okPrefix,
        concurrency: 250,
        failureShare: 0,
        signal: stop.signal,
      }),
    );
  }
  if (options.failing > 0) {
    runs.push(
      runAgents({
        commsUrl: options.commsUrl,
        count: options.failing,
        prefix: options.failPrefix,
        concurrency: 50,
        failureShare: 1,
        signal: stop.signal,
      }),
    );
  }
  const { offline, late } = options;
  if (offline && offline.count > 0) {
    runs.push(
      runAgents({
        commsUrl: options.commsUrl,
        count: offline.count,
        prefix: offline.prefix,
        offline: offline.count,
        signal: stop.signal,
      }),
    );
  }
  if (late && late.count > 0) {
    runs.push(
      runAgents({
        commsUrl: options.commsUrl,
        count: late.count,
        prefix: late.prefix,
        concurrency: 50,
        startAfterMs: late.afterMs,
        onStart: late.onStart,
        signal: stop.signal,
      }),
    );
  }
  return {
    stop: () => {
      stop.abort();
      return Promise.all(runs);
    },
  };
}
