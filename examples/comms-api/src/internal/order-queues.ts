/** An order as the Management API hands it over (the scheduler's `/accept_commands` layout). */
export interface QueuedOrder {
  document_id: string;
  target: { type: string; id: string };
  action: { name: string; args?: Record<string, unknown>; version?: string };
  /** ISO-8601 deadline; an order past it is not handed out (the command manager fails it). */
  deadline?: string;
  [key: string]: unknown;
}

type Waiter = (orders: QueuedOrder[]) => void;

/**
 * One FIFO queue of orders per destination (agent id, or server component name), and the long polls
 * waiting on each. Orders go to a waiting poll at once; otherwise they wait for the next poll.
 */
export class OrderQueues {
  private readonly queues = new Map<string, QueuedOrder[]>();
  private readonly waiters = new Map<string, Waiter[]>();
  private size = 0;

  constructor(
    private readonly maxPerPoll: number,
    private readonly now: () => Date,
  ) {}

  get queued(): number {
    return this.size;
  }

  /** Long polls waiting right now. */
  get held(): number {
    let n = 0;
    for (const list of this.waiters.values()) n += list.length;
    return n;
  }

  push(orders: readonly QueuedOrder[]): void {
    const touched = new Set<string>();
    for (const order of orders) {
      const key = order.target.id;
      const queue = this.queues.get(key) ?? [];
      queue.push(order);
      this.queues.set(key, queue);
      this.size++;
      touched.add(key);
    }
    for (const key of touched) {
      const waiter = this.waiters.get(key)?.shift();
      if (waiter) waiter(this.take(key));
    }
  }

  /** Puts orders back at the front of their queue (an answer that did not reach its agent). */
  putBack(orders: readonly QueuedOrder[]): void {
    for (const order of [...orders].reverse()) {
      const queue = this.queues.get(order.target.id) ?? [];
      queue.unshift(order);
      this.queues.set(order.target.id, queue);
      this.size++;
    }
  }

  /** Up to `maxPerPoll` orders of `key` that are still before their deadline (expired ones are dropped). */
  take(key: string): QueuedOrder[] {
    const queue = this.queues.get(key);
    if (!queue) return [];
    const nowMs = this.now().getTime();
    const out: QueuedOrder[] = [];
    while (queue.length > 0 && out.length < this.maxPerPoll) {
      const order = queue.shift() as QueuedOrder;
      this.size--;
      if (order.deadline === undefined || Date.parse(order.deadline) > nowMs) out.push(order);
    }
    if (queue.length === 0) this.queues.delete(key);
    return out;
  }

  /** Registers a long poll; returns a function that withdraws it (timeout, client gone). */
  wait(key: string, waiter: Waiter): () => void {
    const list = this.waiters.get(key) ?? [];
    list.push(waiter);
    this.waiters.set(key, list);
    return () => {
      const current = this.waiters.get(key);
      if (!current) return;
      const i = current.indexOf(waiter);
      if (i >= 0) current.splice(i, 1);
      if (current.length === 0) this.waiters.delete(key);
    };
  }

  /** Answers every waiting poll with nothing (shutdown). */
  releaseAll(): void {
    const all = [...this.waiters.values()].flat();
    this.waiters.clear();
    for (const waiter of all) waiter([]);
  }
}
