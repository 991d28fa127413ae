/**
 * The simulated Management API and its agents. Sidecars reach it through `delivery(proc)`, an `OrderDelivery`
 * whose calls cross a lossy network (latency, requests and answers lost: the caller then times out after
 * `requestTimeoutMs` and retries the orders, which may have arrived all the same). The server answers per
 * order (accepted, or rejected), or 503 for a whole batch; an accepted order's agent reports its result
 * later through core's `applyResultReports`, as the Comms API does, or never (a silent agent).
 *
 * Every delivery that arrives is noted per order (`arrivals`), with the window in which its sender held it:
 * from the sender's call until the sender's verdict write on it ended (`windowClosed`), or the sender died.
 */
import { applyResultReports, noopLogger } from '@command-manager/core';
import type { Clock, OrderStore, Principal, StoredOrder } from '@command-manager/core';
import type { OrderDelivery, OrderVerdict } from '@command-manager/scheduler';
import type { FaultRates } from './faults';
import type { Prng } from './prng';
import type { SimLoop } from './sim-loop';
import { never } from './sim-process';
import type { SimProcess } from './sim-process';
import type { Trace } from './trace';

export interface Arrival {
  sender: SimProcess;
  atMs: number;
}

/** An order being delivered by a sender, from its call until its verdict was written (or it died). */
export interface OpenWindow {
  sender: SimProcess;
  sinceMs: number;
}

const PRINCIPAL: Principal = {
  name: 'management-api',
  roles: ['results'],
  canDelegate: false,
  sources: '*',
  actions: '*',
};

export interface ManagementApiDeps {
  loop: SimLoop;
  prng: Prng;
  faults: FaultRates;
  trace: Trace;
  /** The orders index as the Comms API reaches it (results). */
  orders: OrderStore;
  /** The indexer's clock. */
  clock: Clock;
  requestTimeoutMs: number;
  /** Called when an order is being sent while another live sender is still delivering it. */
  onConcurrentDelivery: (order: StoredOrder, first: OpenWindow, second: SimProcess) => void;
}

export class SimManagementApi {
  /** Deliveries that arrived, per order id. */
  readonly arrivals = new Map<string, Arrival[]>();
  /** Orders being delivered right now, per order id and sender. */
  readonly open = new Map<string, OpenWindow[]>();
  accepted = 0;
  /** Simulated time of every acceptance, in order. */
  readonly acceptedAtMs: number[] = [];
  private readonly silentAgents = new Map<string, boolean>();

  constructor(private readonly deps: ManagementApiDeps) {}

  delivery(proc: SimProcess): OrderDelivery {
    return {
      deliver: (orders) => this.deliver(proc, orders),
      isBlocked: () => false,
    };
  }

  /** The sender's verdict write on these orders ended (whatever its outcome): they are no longer its. */
  windowClosed(proc: SimProcess, ids: readonly string[]): void {
    for (const id of ids) {
      const list = this.open.get(id);
      if (!list) continue;
      const rest = list.filter((w) => w.sender !== proc);
      if (rest.length > 0) this.open.set(id, rest);
      else this.open.delete(id);
    }
  }

  /** Orders `proc` (now dead) was delivering: their windows close. */
  senderDied(proc: SimProcess): void {
    for (const [id, list] of this.open) {
      const rest = list.filter((w) => w.sender !== proc);
      if (rest.length > 0) this.open.set(id, rest);
      else this.open.delete(id);
    }
  }

  private async deliver(
    proc: SimProcess,
    orders: readonly StoredOrder[],
  ): Promise<Map<string, OrderVerdict>> {
    const { loop, prng, faults, trace } = this.deps;
    for (const o of orders) {
      const list = this.open.get(o.id) ?? [];
      const other = list.find((w) => w.sender !== proc && w.sender.alive);
      if (other) this.deps.onConcurrentDelivery(o, other, proc);
      if (!list.some((w) => w.sender === proc)) list.push({ sender: proc, sinceMs: loop.now });
      this.open.set(o.id, list);
    }
    const timedOut = loop.sleep(this.deps.requestTimeoutMs).then(() => undefined);
    const call = (async (): Promise<Map<string, OrderVerdict>> => {
      await loop.sleep(prng.between(faults.apiLatencyMs[0], faults.apiLatencyMs[1]));
      if (prng.chance(faults.apiDrop)) {
        trace.add('api-drop', `${proc.id} request of ${orders.length}`);
        return never();
      }
      const verdicts = this.receive(proc, orders);
      await loop.sleep(prng.between(faults.apiLatencyMs[0], faults.apiLatencyMs[1]));
      if (prng.chance(faults.apiDrop)) {
        trace.add('api-drop', `${proc.id} answer of ${orders.length}`);
        return never();
      }
      return verdicts;
    })();
    const answer = await Promise.race([call, timedOut]);
    if (!proc.alive) return never();
    if (answer) return answer;
    trace.add('api-timeout', `${proc.id} ${orders.length}`);
    return new Map(orders.map((o) => [o.id, { kind: 'retry', reason: 'timeout' }]));
  }

  private receive(proc: SimProcess, orders: readonly StoredOrder[]): Map<string, OrderVerdict> {
    const { loop, prng, faults, trace } = this.deps;
    if (prng.chance(faults.apiUnavailable)) {
      trace.add('api-503', `${proc.id} ${orders.length}`);
      return new Map(orders.map((o) => [o.id, { kind: 'retry', reason: 'HTTP 503', retryAfterMs: 1000 }]));
    }
    const verdicts = new Map<string, OrderVerdict>();
    for (const o of orders) {
      const list = this.arrivals.get(o.id) ?? [];
      list.push({ sender: proc, atMs: loop.now });
      this.arrivals.set(o.id, list);
      if (prng.chance(faults.apiReject)) {
        verdicts.set(o.id, { kind: 'rejected', reason: 'agent unknown to the Management API' });
        continue;
      }
      verdicts.set(o.id, { kind: 'accepted' });
      this.accepted++;
      this.acceptedAtMs.push(loop.now);
      this.agentAnswers(o);
    }
    trace.add('api-accept', `${proc.id} ${orders.map((o) => o.id).join(',')}`);
    return verdicts;
  }

  private agentAnswers(o: StoredOrder): void {
    const { loop, prng, faults } = this.deps;
    const agent = o.order.command.target.id;
    let silent = this.silentAgents.get(agent);
    if (silent === undefined) {
      silent = prng.chance(faults.agentSilent);
      this.silentAgents.set(agent, silent);
    }
    if (silent) return;
    const failure = prng.chance(faults.agentFailure);
    loop.after(prng.between(faults.agentResultMs[0], faults.agentResultMs[1]), () => {
      void this.report(o.id, failure, 3);
    });
  }

  private async report(id: string, failure: boolean, attemptsLeft: number): Promise<void> {
    const { orders, clock, trace, loop } = this.deps;
    try {
      const [outcome] = await applyResultReports(
        { orders, clock, logger: noopLogger },
        [
          {
            id,
            status: failure ? 'failure' : 'success',
            result: { code: failure ? 1 : 0, message: failure ? 'agent failed' : 'done' },
          },
        ],
        PRINCIPAL,
      );
      trace.add('result', `${id} ${failure ? 'failure' : 'success'} ${outcome?.outcome ?? '?'}`);
    } catch {
      if (attemptsLeft > 1) loop.after(1000, () => void this.report(id, failure, attemptsLeft - 1));
    }
  }
}
