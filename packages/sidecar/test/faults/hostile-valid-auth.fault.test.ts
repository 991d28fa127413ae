/**
 * Hostile but valid, around authentication: a flood of failed logins beside callers with good credentials
 * from the same address, and a Management API that answers 401 to every dispatch for a while (a credential
 * rotated on the server). One sidecar (a real process) against the shared OpenSearch, the reference
 * Management API behind the fault proxy.
 */
import { performance } from 'node:perf_hooks';
import type { Order } from '@command-manager/core';
import { FigureBook } from './support/figures';
import { API, BASIC_USER, call, command, TOKENS, waitFor } from './support/fixtures';
import type { SubmitAnswer } from './support/fixtures';
import { oneSidecarScenario } from './support/scenario';

const GROUP = 50;
const FLOOD = 300;
const BREAKER_OPEN_MS = 1500;
const STORM_CALLS = 4;

const figures = new FigureBook(
  '6-hostile-valid-auth',
  'Hostile but valid: login floods and a 401 storm',
  `One sidecar with its defaults for failed logins (10 per user name and address, 10 per address for ` +
    `credentials naming no one, 100 passwords per address, 2 password verifications at once, 32 ` +
    `waiting and 4 per address) and a ${BREAKER_OPEN_MS} ms breaker. **refused** counts the flood's requests answered 429 ` +
    `without any password work; **recovered** is the valid caller's worst latency during the flood (login ` +
    `case) or the time from the last 401 to the delivery of every order (storm case).`,
);
const scenario = oneSidecarScenario({
  file: __filename,
  group: 'auth',
  agents: GROUP,
  name: 'auth-faults',
  extra: {
    CM_BREAKER_OPEN_MS: String(BREAKER_OPEN_MS),
    CM_POLL_INTERVAL_MS: '200',
    CM_RETRY_BASE_MS: '200',
    CM_RETRY_MAX_MS: '2000',
    CM_DISPATCH_BATCH_SIZE: '100',
  },
  after: () => figures.save(),
});

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

test('a login flood beside a valid caller: the flood is refused cheaply, the valid callers are served', async () => {
  // Before the flood: the valid Basic caller's usual latency (its first login pays scrypt).
  const idle = await timed(() =>
    call(scenario.sidecar.url, 'GET', `${API}/orders?size=1`, {
      basic: `${BASIC_USER.name}:${BASIC_USER.password}`,
    }),
  );
  expect(idle.value.status).toBe(200);

  // Control: a burst of as many requests without credentials (no login work at all), beside one valid call,
  // to tell the cost of receiving a burst on this machine from the cost of the failed logins.
  const control = Array.from({ length: FLOOD }, () =>
    call(scenario.sidecar.url, 'GET', `${API}/orders?size=1`),
  );
  const controlCall = await timed(() =>
    call(scenario.sidecar.url, 'GET', `${API}/orders?size=1`, { token: TOKENS.readOnly }),
  );
  expect(controlCall.value.status).toBe(200);
  await Promise.all(control);

  // The flood, all from this address: wrong passwords for a guessed name, and made-up tokens.
  const flood = Array.from({ length: FLOOD }, (_, i) =>
    i % 3 === 2
      ? call(scenario.sidecar.url, 'GET', `${API}/orders?size=1`, { token: `guess-${i}-0123456789abcdef` })
      : call(scenario.sidecar.url, 'GET', `${API}/orders?size=1`, { basic: `admin:guess-${i}` }),
  );
  // Beside it, from the same address: a token caller and a Basic caller with a name of its own.
  const latencies: number[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const token = await timed(() =>
      call(scenario.sidecar.url, 'GET', `${API}/orders?size=1`, { token: TOKENS.readOnly }),
    );
    const basicCall = await timed(() =>
      call(scenario.sidecar.url, 'GET', `${API}/orders?size=1`, {
        basic: `${BASIC_USER.name}:${BASIC_USER.password}`,
      }),
    );
    statuses.push(token.value.status, basicCall.value.status);
    latencies.push(token.ms, basicCall.ms);
  }
  const answers = await Promise.all(flood);
  const tally = new Map<number, number>();
  for (const a of answers) tally.set(a.status, (tally.get(a.status) ?? 0) + 1);

  expect(statuses.every((s) => s === 200)).toBe(true);
  expect([...tally.keys()].every((s) => s === 401 || s === 429)).toBe(true);
  // Counted when attempts start: 10 wrong passwords for "admin" and 10 bad tokens from this address were
  // examined; everything else was refused before any work.
  expect(tally.get(401) ?? 0).toBeLessThanOrEqual(20);
  const refused = tally.get(429) ?? 0;
  expect(refused).toBeGreaterThanOrEqual(FLOOD - 20);
  // The sidecar is alive and still serves.
  expect((await call(scenario.sidecar.url, 'GET', '/health')).status).toBe(200);

  const worst = Math.max(...latencies);
  figures.add({
    case: `login flood (${FLOOD} parallel: wrong passwords for one name and made-up tokens) beside a valid token and a valid Basic caller, one address`,
    submitted: FLOOD,
    refused,
    lost: 0,
    recoveredMs: Math.round(worst),
    notes:
      `valid callers served ${statuses.length}/${statuses.length}; their latency during the flood: ` +
      `median ${Math.round(median(latencies))} ms, worst ${Math.round(worst)} ms (Basic login before the ` +
      `flood: ${Math.round(idle.ms)} ms; a token call beside ${FLOOD} requests without credentials: ` +
      `${Math.round(controlCall.ms)} ms; in order: ${latencies.map((l) => Math.round(l)).join(', ')} ms); flood answers: ${[...tally].map(([s, n]) => `${n} × ${s}`).join(', ')}`,
  });
}, 120_000);

test('a 401 storm from the Management API: orders stay pending, none failed, delivered once it accepts again', async () => {
  scenario.proxy.inject({ kind: 'status', status: 401 }, STORM_CALLS);
  const submitted = await call<SubmitAnswer>(scenario.sidecar.url, 'POST', `${API}/commands?summary=true`, {
    token: TOKENS.admin,
    body: { commands: [command({ targetType: 'group', targetId: 'auth', timeoutSec: 600 })] },
  });
  expect(submitted.status).toBe(201);
  const requestId = submitted.body.commands[0]?.request_id ?? 0;
  const ordersOf = async (): Promise<Array<{ id: string; order: Order }>> =>
    (await scenario.indices.allOrders()).filter((o) => o.order.command.request_id === requestId);

  // While the API refuses the dispatcher, nothing fails.
  await waitFor('the storm to pass', async () => scenario.proxy.script.length === 0, {
    timeoutMs: 60_000,
    intervalMs: 100,
  });
  const lastRefusalAt = Date.now();
  const during = await ordersOf();
  expect(during.filter((o) => o.order.command.status === 'failure')).toEqual([]);

  await waitFor(
    'every order to be sent',
    async () => (await ordersOf()).filter((o) => o.order.command.status === 'sent').length === GROUP,
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  const recoveredMs = Date.now() - lastRefusalAt;
  const orders = await ordersOf();
  const ids = orders.map((o) => o.id);
  // No attempt was burnt on the refusals, and each order was accepted exactly once.
  expect(orders.every((o) => o.order.scheduling.attempts === 0)).toBe(true);
  expect(ids.every((id) => scenario.proxy.accepted.get(id) === 1)).toBe(true);
  const refusals = scenario.proxy.calls.filter(
    (c) => c.requestIds.includes(requestId) && c.status === 401,
  ).length;
  expect(refusals).toBe(STORM_CALLS);
  const halted = scenario.sidecar.logs.filter((l) => /refuses the dispatcher/.test(String(l.message))).length;
  expect(halted).toBeGreaterThanOrEqual(1);
  const metrics = await call(scenario.sidecar.url, 'GET', '/metrics', { token: TOKENS.monitoring });
  expect(metrics.text).toMatch(/scheduler_delivery_halted_total\{reason="auth"\} [1-9]/);

  figures.add({
    case: `401 storm (${STORM_CALLS} calls answered 401, breaker open ${BREAKER_OPEN_MS} ms)`,
    submitted: GROUP,
    delivered: ids.filter((id) => (scenario.proxy.accepted.get(id) ?? 0) > 0).length,
    duplicated: ids.filter((id) => (scenario.proxy.accepted.get(id) ?? 0) > 1).length,
    lost: 0,
    failed: 0,
    recoveredMs,
    notes: `${refusals} calls refused, one per breaker period; every order stayed pending with 0 attempts, then was sent once`,
  });
}, 120_000);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
