import { setMaxListeners } from 'node:events';
import { runAgents, type AgentsReport } from '@command-manager-examples/agents';

export interface Simulators {
  /** Stops polling, lets the orders received be reported, and resolves with each simulator's report. */
  stop(): Promise<AgentsReport[]>;
}

/**
 * The agents of a run: `succeeding` agents (`<okPrefix>000001` …) that report `success` and `failing` agents
 * (`<failPrefix>000001` …) that report `failure` for every order, all polling the Comms API at `commsUrl`.
 */
export function startSimulators(options: {
  commsUrl: string;
  succeeding: number;
  failing: number;
  okPrefix: string;
  failPrefix: string;
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
  return {
    stop: () => {
      stop.abort();
      return Promise.all(runs);
    },
  };
}
