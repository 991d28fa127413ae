import { newOrder } from '@command-manager/core';
import type { StoredOrder } from '@command-manager/core';
import {
  CircuitBreaker,
  ManagementApiClient,
  errorBudget,
  parseAcceptAnswer,
  parseRetryAfter,
} from '@command-manager/scheduler';
import type { ManagementApiClientOptions } from '@command-manager/scheduler';
import { ManualClock } from '@command-manager/test-support';
import { command, makeTestPki } from './support/fixtures';
import type { TestPki } from './support/fixtures';
import { StubManagementApi } from './support/stub-management-api';

function stored(n: number): StoredOrder[] {
  const now = new Date('2025-01-01T00:00:00Z');
  return Array.from({ length: n }, (_, i) => ({
    id: `5-${i + 1}`,
    rev: '1',
    order: newOrder({
      command: command(),
      requestId: 5,
      orderId: i + 1,
      target: { type: 'agent', id: `00${i + 1}` },
      groups: ['g'],
      principal: 'p',
      now,
    }),
  }));
}

const stubs: StubManagementApi[] = [];
const clients: ManagementApiClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of stubs.splice(0)) await s.close();
});

async function startStub(...args: Parameters<typeof StubManagementApi.start>): Promise<StubManagementApi> {
  const s = await StubManagementApi.start(...args);
  stubs.push(s);
  return s;
}

function client(options: ManagementApiClientOptions): ManagementApiClient {
  const c = new ManagementApiClient(options);
  clients.push(c);
  return c;
}

describe('the /accept_commands request', () => {
  it('posts every order with its Wazuh fields', async () => {
    const stub = await startStub();
    const verdicts = await client({ managementApiUrl: `${stub.url}/` }).deliver(stored(1));
    expect(verdicts.get('5-1')).toEqual({ kind: 'accepted' });
    expect(stub.receivedOrders).toEqual([
      {
        document_id: '5-1',
        request_id: 5,
        order_id: 1,
        source: 'Users/Services',
        user: 'alice',
        target: { type: 'agent', id: '001' },
        action: { name: 'restart', args: {} },
        timeout: 300,
        deadline: '2025-01-01T00:05:00.000Z',
      },
    ]);
  });

  it('treats a slow answer as retryable once the request timeout passes', async () => {
    const stub = await startStub();
    stub.holdNext(1);
    const verdicts = await client({ managementApiUrl: stub.url, requestTimeoutMs: 50 }).deliver(stored(1));
    expect(verdicts.get('5-1')).toEqual({
      kind: 'retry',
      reason: 'management API did not answer within 50 ms',
    });
  });
});

describe('auth', () => {
  it('sends Basic credentials', async () => {
    const stub = await startStub({ auth: { type: 'basic', username: 'wazuh', password: 's3cret' } });
    const ok = await client({
      managementApiUrl: stub.url,
      auth: { type: 'basic', username: 'wazuh', password: 's3cret' },
    }).deliver(stored(1));
    expect(ok.get('5-1')?.kind).toBe('accepted');
    const bad = await client({
      managementApiUrl: stub.url,
      auth: { type: 'basic', username: 'wazuh', password: 'wrong' },
    }).deliver(stored(1));
    // Refused credentials say nothing about the order: it is held back, not failed.
    expect(bad.get('5-1')).toMatchObject({ kind: 'halted' });
  });

  it('sends a bearer token', async () => {
    const stub = await startStub({ auth: { type: 'bearer', token: 'tok' } });
    const ok = await client({ managementApiUrl: stub.url, auth: { type: 'bearer', token: 'tok' } }).deliver(
      stored(1),
    );
    expect(ok.get('5-1')?.kind).toBe('accepted');
  });

  it('logs in for a JWT, reuses it, and renews it once on 401', async () => {
    const stub = await startStub({ auth: { type: 'jwt', username: 'wazuh-wui', password: 'pw' } });
    const c = client({
      managementApiUrl: stub.url,
      auth: { type: 'jwt', username: 'wazuh-wui', password: 'pw' },
    });
    expect((await c.deliver(stored(1))).get('5-1')?.kind).toBe('accepted');
    expect((await c.deliver(stored(1))).get('5-1')?.kind).toBe('accepted');
    expect(stub.logins).toBe(1);

    stub.expireTokens();
    expect((await c.deliver(stored(1))).get('5-1')?.kind).toBe('accepted');
    expect(stub.logins).toBe(2);
    // The 401 was answered once, then the call was repeated with the new token.
    expect(stub.acceptRequests).toBe(4);
  });

  it('halts (fails no order) when the JWT login is refused', async () => {
    const stub = await startStub({ auth: { type: 'jwt', username: 'wazuh-wui', password: 'pw' } });
    const c = client({
      managementApiUrl: stub.url,
      auth: { type: 'jwt', username: 'wazuh-wui', password: 'nope' },
    });
    const v = await c.deliver(stored(1));
    expect(v.get('5-1')).toMatchObject({ kind: 'halted' });
    expect(c.breaker.state).toBe('open');
    expect(stub.acceptRequests).toBe(0);
  });
});

describe('TLS', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makeTestPki();
  });

  it('delivers to a server whose certificate chains to the configured CA', async () => {
    const stub = await startStub({ tls: { key: pki.serverKey, cert: pki.serverCert } });
    const v = await client({ managementApiUrl: stub.url, tls: { ca: pki.caCert } }).deliver(stored(1));
    expect(v.get('5-1')?.kind).toBe('accepted');
  });

  it('refuses a server certificate signed by another CA', async () => {
    const stub = await startStub({ tls: { key: pki.serverKey, cert: pki.serverCert } });
    const v = await client({ managementApiUrl: stub.url, tls: { ca: pki.otherCaCert } }).deliver(stored(1));
    expect(v.get('5-1')).toMatchObject({ kind: 'retry' });
    expect((v.get('5-1') as { reason: string }).reason).toMatch(/certificate|CERT/i);
    expect(stub.received).toEqual([]);
  });

  it('refuses a self-signed certificate when no CA is configured (system roots)', async () => {
    const stub = await startStub({ tls: { key: pki.selfSignedKey, cert: pki.selfSignedCert } });
    const v = await client({ managementApiUrl: stub.url }).deliver(stored(1));
    expect(v.get('5-1')?.kind).toBe('retry');
    expect(stub.received).toEqual([]);
  });

  it('presents a client certificate when the server requires one', async () => {
    const stub = await startStub({
      tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.caCert, requestCert: true },
    });
    // The server certificate doubles as a client certificate here: it is signed by the CA the stub trusts.
    const withCert = await client({
      managementApiUrl: stub.url,
      tls: { ca: pki.caCert, cert: pki.serverCert, key: pki.serverKey },
    }).deliver(stored(1));
    expect(withCert.get('5-1')?.kind).toBe('accepted');
    const without = await client({ managementApiUrl: stub.url, tls: { ca: pki.caCert } }).deliver(stored(1));
    expect(without.get('5-1')?.kind).toBe('retry');
  });
});

describe('answers', () => {
  it('reads Wazuh affected_items / failed_items per order', () => {
    const text = JSON.stringify({
      data: {
        affected_items: ['1-1', { document_id: '1-2' }],
        failed_items: [{ error: { code: 1760, message: 'agent is not connected' }, id: ['1-3', '1-9'] }],
      },
    });
    const v = parseAcceptAnswer(['1-1', '1-2', '1-3', '1-4'], text);
    expect(Object.fromEntries(v)).toEqual({
      '1-1': { kind: 'accepted' },
      '1-2': { kind: 'accepted' },
      '1-3': { kind: 'rejected', reason: 'agent is not connected' },
      '1-4': { kind: 'retry', reason: 'not acknowledged by the management API' },
    });
  });

  it('counts a 2xx without per-item lists as accepting the whole batch', () => {
    expect(Object.fromEntries(parseAcceptAnswer(['a', 'b'], ''))).toEqual({
      a: { kind: 'accepted' },
      b: { kind: 'accepted' },
    });
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('CircuitBreaker', () => {
  it('goes closed → open → half-open (one trial at a time) → closed', () => {
    const clock = new ManualClock();
    const states: string[] = [];
    const b = new CircuitBreaker({ failureThreshold: 2, openMs: 100 }, clock, (s) => states.push(s));
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    expect(b.state).toBe('closed');
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    expect(b.remainingOpenMs()).toBe(100);
    clock.advance(100);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    expect(b.isBlocked()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('a success in between resets the count of consecutive failures', () => {
    const b = new CircuitBreaker({ failureThreshold: 2 }, new ManualClock());
    b.failure();
    b.success();
    b.failure();
    expect(b.state).toBe('closed');
  });
});

describe('errorBudget', () => {
  it.each([
    [5, 100, 5],
    ['5', 100, 5],
    ['10%', 200, 20],
    ['10%', 15, 1],
    ['0', 10, 0],
    [undefined, 10, undefined],
    ['lots', 10, undefined],
  ])('max_errors %p of %p orders → %p', (maxErrors, total, expected) => {
    expect(errorBudget(maxErrors, total)).toBe(expected);
  });
});
