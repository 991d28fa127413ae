/**
 * Hostile input against a sidecar process: fuzzed bodies, huge bodies, deep nesting, unicode edge cases,
 * ids with control characters, forged `user`/`source`, wrong roles, wrong and missing credentials: each
 * refused with the right status, and nothing written (documents counted in the orders and requests
 * indices around every case). Then TLS on the Management API side: a certificate the sidecar does not
 * trust gets no order out.
 *
 * Only agent `agent-000001` exists, so a fuzzed body that happens to be valid still resolves to no target
 * (422) and writes nothing; the control case at the end shows that a valid body does write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { opensearchUrl, pkiBuilder } from '@command-manager/test-support';
import type { ManagementApiHandle } from '@command-manager-examples/management-api';
import type { FaultProxy } from './support/fault-proxy';
import { FigureBook } from './support/figures';
import {
  API,
  BASIC_USER,
  call,
  command,
  faultIndices,
  sidecarEnv,
  TOKENS,
  waitFor,
} from './support/fixtures';
import type { ApiAnswer, FaultIndices, UsersFixture } from './support/fixtures';
import { startProxiedManagementApi, startScenarioStore, stopFaultScenario } from './support/scenario';
import { startSidecar } from './support/sidecar-process';
import type { SidecarProcess } from './support/sidecar-process';

const AGENT = 'agent-000001';
const BODY_LIMIT = 1_048_576;

const figures = new FigureBook(
  '5-hostile-input',
  'Hostile input',
  'One sidecar without scheduler; documents (orders, request records, idempotency entries) counted before ' +
    'and after every case. Only one agent exists, so a fuzzed body that happens to be valid still names no ' +
    'target (422). The TLS cases run three more sidecars against an HTTPS Management API with a self-signed ' +
    'certificate: no CA, another CA, and (control) that certificate as CA.',
  'requests',
);
let indices: FaultIndices;
let users: UsersFixture;
let sidecar: SidecarProcess;

interface ErrorBody {
  error?: { code?: string; message?: string; details?: Array<{ pointer: string; message: string }> };
}

beforeAll(async () => {
  ({ users, indices } = await startScenarioStore({
    file: __filename,
    opensearchUrl: opensearchUrl(),
    group: 'only',
    agents: 1,
  }));
  sidecar = await startSidecar({
    name: 'hostile',
    env: sidecarEnv({
      opensearchUrl: opensearchUrl(),
      indices,
      usersFile: users.file,
      // No scheduler: this sidecar only takes (and refuses) requests.
      extra: { CM_SCHEDULER_ENABLED: 'false', CM_HTTP_BODY_LIMIT_BYTES: String(BODY_LIMIT) },
    }),
  });
}, 120_000);

afterAll(async () => {
  await stopFaultScenario({ users, indices });
  figures.save();
}, 60_000);

/**
 * Documents a request may write: orders, request records and idempotency entries. The request-id counter
 * is left out: since the submit path allocates ids while it plans (core's `planAndAllocate`), a
 * submission refused for naming no target consumes an id by design; `idsConsumed`
 * measures that separately.
 */
async function documents(): Promise<number> {
  await indices.refresh();
  const res = await indices.client.count({
    index: indices.requestsIndex,
    body: { query: { terms: { kind: ['request', 'idempotency'] } } },
  });
  return (await indices.countOrders()) + (res.body as { count: number }).count;
}

/** Runs `send`, checks it was refused as expected, and that it wrote nothing; returns the answers. */
async function refused(
  name: string,
  expected: { status: number | readonly number[]; code?: string; pointer?: string },
  send: () => Promise<ApiAnswer<ErrorBody>[]>,
): Promise<void> {
  const before = await documents();
  const idsBefore = await indices.lastRequestId();
  const answers = await send();
  const written = (await documents()) - before;
  const idsConsumed = (await indices.lastRequestId()) - idsBefore;
  const statuses = Array.isArray(expected.status) ? expected.status : [expected.status];
  for (const a of answers) {
    expect(statuses).toContain(a.status);
    expect(a.body?.error?.code).toEqual(expected.code ?? expect.any(String));
    if (expected.pointer !== undefined) {
      expect(a.body?.error?.details?.map((d) => d.pointer)).toContain(expected.pointer);
    }
  }
  expect({ case: name, written }).toEqual({ case: name, written: 0 });
  const codes = [...new Set(answers.map((a) => a.status))].join(', ');
  figures.add({
    case: name,
    submitted: answers.length,
    refused: answers.length,
    written,
    notes: `HTTP ${codes}${idsConsumed > 0 ? `; ${idsConsumed} request id(s) consumed` : ''}`,
  });
}

const submit = (
  body: unknown,
  options: {
    token?: string;
    basic?: string;
    rawBody?: string | Buffer;
    headers?: Record<string, string>;
  } = {},
): Promise<ApiAnswer<ErrorBody>> =>
  call<ErrorBody>(sidecar.url, 'POST', `${API}/commands`, {
    // The admin token unless the case brings its own credentials.
    ...(options.basic === undefined &&
      options.headers?.authorization === undefined && { token: TOKENS.admin }),
    ...(body !== undefined && { body }),
    ...options,
  });

const valid = (overrides: Record<string, unknown> = {}): { commands: unknown[] } => ({
  commands: [{ ...command({ targetId: AGENT }), ...overrides }],
});

describe('malformed and oversized bodies', () => {
  test('fuzzed JSON values, fuzzed bytes and mutated commands: 4xx, never 2xx or 5xx', async () => {
    const answers: ApiAnswer<ErrorBody>[] = [];
    const record = async (p: Promise<ApiAnswer<ErrorBody>>): Promise<boolean> => {
      const a = await p;
      answers.push(a);
      return a.status >= 400 && a.status < 500 && typeof a.body?.error?.code === 'string';
    };
    const before = await documents();
    const idsBefore = await indices.lastRequestId();
    // Any JSON value as the body.
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), (v) => record(submit(undefined, { rawBody: JSON.stringify(v) }))),
      { numRuns: 100 },
    );
    // Any bytes as the body.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), (bytes) =>
        record(submit(undefined, { rawBody: Buffer.from(bytes) })),
      ),
      { numRuns: 100 },
    );
    // A valid command with one field replaced by anything (target never resolves: at best 422).
    const fields = [
      'source',
      'user',
      'target',
      'action',
      'timeout',
      'extra',
      'max_errors',
      'max_concurrency',
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), fc.jsonValue(), (field, value) =>
        record(submit({ commands: [{ ...command({ targetId: 'no-such-agent' }), [field]: value }] })),
      ),
      { numRuns: 150 },
    );
    const written = (await documents()) - before;
    const idsConsumed = (await indices.lastRequestId()) - idsBefore;
    expect(written).toBe(0);
    const byStatus = new Map<number, number>();
    for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
    expect([...byStatus.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
    figures.add({
      case: 'fuzzed bodies (fast-check: JSON values, bytes, mutated commands)',
      submitted: answers.length,
      refused: answers.length,
      written,
      notes: `${[...byStatus].map(([s, n]) => `${n}× ${s}`).join(', ')}; ${idsConsumed} request id(s) consumed`,
    });
  }, 120_000);

  test('a body over the limit: 413', async () => {
    await refused('huge body (5 MiB)', { status: 413, code: 'PAYLOAD_TOO_LARGE' }, async () => [
      await submit(undefined, {
        rawBody: JSON.stringify({
          commands: [command({ targetId: AGENT })],
          pad: 'x'.repeat(5 * BODY_LIMIT),
        }),
      }),
    ]);
  });

  test('more commands than a batch may hold: 413', async () => {
    await refused('101 commands in one batch', { status: 413, code: 'BATCH_TOO_LARGE' }, async () => [
      await submit({ commands: Array.from({ length: 101 }, () => command({ targetId: AGENT })) }),
    ]);
  });

  test('deep nesting: 400', async () => {
    const depth = 20_000;
    const deepArgs = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const body = JSON.stringify(valid()).replace('"args":{}', `"args":${deepArgs}`);
    await refused(
      'deep nesting (20,000 levels in args; 200,000 nested arrays)',
      { status: 400 },
      async () => [
        await submit(undefined, { rawBody: body }),
        await submit(undefined, { rawBody: `${'['.repeat(200_000)}${']'.repeat(200_000)}` }),
      ],
    );
  });
});

describe('ids and unicode', () => {
  test('ids with control characters: 400 naming the field', async () => {
    await refused(
      'control characters in target.id',
      { status: 400, code: 'VALIDATION_FAILED', pointer: '/commands/0/target/id' },
      async () =>
        Promise.all(
          ['agent-\u0000', 'agent\n000001', '\u001b[31magent', 'agent\u007f', 'agent\u0085'].map((id) =>
            submit({ commands: [command({ targetId: id })] }),
          ),
        ),
    );
    await refused(
      'control characters in user',
      { status: 400, code: 'VALIDATION_FAILED', pointer: '/commands/0/user' },
      async () => [await submit(valid({ user: 'admin\r\nX-Forged: 1' }))],
    );
    await refused('control characters in ids of the URL', { status: [400, 404] }, async () => [
      await call<ErrorBody>(sidecar.url, 'GET', `${API}/orders/1-1%00`, { token: TOKENS.admin }),
      await call<ErrorBody>(sidecar.url, 'GET', `${API}/requests/1%0a2`, { token: TOKENS.admin }),
    ]);
  });

  // A path parameter with a malformed percent-escape makes the router throw a URIError (status 400, but no
  // `expose`). It is the client's fault: the error middleware (`toCommandManagerError`) answers 400, not 500
  // INTERNAL logged as an "unexpected error".
  test('a malformed percent-escape in a path id is a 400, not a 500', async () => {
    const answer = await call<ErrorBody>(sidecar.url, 'GET', `${API}/orders/%E0%A4%A`, {
      token: TOKENS.admin,
    });
    if (answer.status !== 400) {
      figures.observe(
        `BUG (express error middleware): GET /orders/%E0%A4%A (malformed percent-escape) answers HTTP ${answer.status} ` +
          `${answer.body?.error?.code ?? ''} instead of 400; the router's URIError is not mapped to a client error.`,
      );
    }
    expect(answer.status).toBe(400);
  });

  test('unicode edge cases that name no target: refused', async () => {
    await refused(
      'unicode target ids (lone surrogate, emoji, zero-width, NFD)',
      { status: [400, 422] },
      async () =>
        Promise.all(
          [
            'agent-\ud800',
            '\udfff',
            '🤖-000001',
            'agent\u200b-000001',
            'agent-000001\u0301',
            '\ufeffagent-000001',
          ].map((id) => submit({ commands: [command({ targetId: id })] })),
        ),
    );
    await refused(
      'unicode in the action name (zero-width, homoglyph)',
      { status: 400, code: 'UNKNOWN_ACTION' },
      async () => [
        await submit(valid({ action: { name: 're\u200bstart', args: {} } })),
        await submit(valid({ action: { name: 'rеstart', args: {} } })), // Cyrillic е
      ],
    );
  });

  // A lone surrogate (ill-formed UTF-16, not encodable as UTF-8) in `user` is refused by validation (core's
  // `boundedText`), not stored verbatim ("ad\uD800min" in the orders index).
  test('a lone surrogate in user is refused (400) and nothing is written', async () => {
    const before = await documents();
    const answer = await submit(valid({ user: 'ad\ud800min' }));
    const written = (await documents()) - before;
    if (answer.status !== 400 || written !== 0) {
      figures.observe(
        `BUG (validation): a lone surrogate in user ("ad\\ud800min") answered HTTP ${answer.status}, ${written} document(s) written.`,
      );
    }
    expect({ status: answer.status, written }).toEqual({ status: 400, written: 0 });
  });

  // A body that is not valid UTF-8 is refused (400) by the express body parsing, rather than its bytes silently
  // replaced by U+FFFD and the command stored ("ad\uFFFD(min").
  test('a body that is not valid UTF-8 is refused (400) and nothing is written', async () => {
    const before = await documents();
    const raw = Buffer.concat([
      Buffer.from(JSON.stringify(valid({ user: 'adXXmin' })).split('XX')[0] ?? '', 'utf8'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(JSON.stringify(valid({ user: 'adXXmin' })).split('XX')[1] ?? '', 'utf8'),
    ]);
    const answer = await submit(undefined, { rawBody: raw });
    const written = (await documents()) - before;
    if (answer.status !== 400 || written !== 0) {
      figures.observe(
        `BUG (validation): a body with invalid UTF-8 bytes (0xC3 0x28 inside user, stored as U+FFFD) answered HTTP ${answer.status}, ${written} document(s) written.`,
      );
    }
    expect({ status: answer.status, written }).toEqual({ status: 400, written: 0 });
  });

  // Bidirectional overrides (U+202E, "Trojan Source" spoofing in dashboards and logs) in `user` are refused by
  // core validation, like the C0/C1 controls, and not stored.
  test('a bidi override in user is refused (400) and nothing is written', async () => {
    const before = await documents();
    const answer = await submit(valid({ user: '\u202eadmin' }));
    const written = (await documents()) - before;
    if (answer.status !== 400 || written !== 0) {
      figures.observe(
        `BUG (validation): a bidi override (U+202E) in user answered HTTP ${answer.status}, ${written} document(s) written.`,
      );
    }
    expect({ status: answer.status, written }).toEqual({ status: 400, written: 0 });
  });
});

describe('authorisation', () => {
  test('forged source and user: 403 naming the field', async () => {
    await refused(
      'forged source (engine claims Users/Services)',
      { status: 403, code: 'FORBIDDEN', pointer: '/commands/0/source' },
      async () => [await submit(valid({ user: 'engine' }), { token: TOKENS.engine })],
    );
    await refused(
      'forged user (engine acts for admin)',
      { status: 403, code: 'FORBIDDEN', pointer: '/commands/0/user' },
      async () => [await submit(valid({ source: 'Engine', user: 'admin' }), { token: TOKENS.engine })],
    );
    await refused(
      'forged user (content manager acts for admin)',
      { status: 403, code: 'FORBIDDEN', pointer: '/commands/0/user' },
      async () => [
        await submit(
          {
            commands: [
              {
                ...command({ targetId: 'vulnerability-detector', source: 'Content manager', user: 'admin' }),
                target: { type: 'server', id: 'vulnerability-detector' },
                action: { name: 'update', args: { index: 'wazuh-cve', offset: '0' } },
              },
            ],
          },
          { token: TOKENS.contentManager },
        ),
      ],
    );
    await refused(
      'action outside the role (management-api sends update)',
      { status: 403, code: 'FORBIDDEN', pointer: '/commands/0/action/name' },
      async () => [
        await submit(
          {
            commands: [
              {
                ...command({ targetId: 'vulnerability-detector' }),
                target: { type: 'server', id: 'vulnerability-detector' },
                action: { name: 'update', args: { index: 'wazuh-cve', offset: '0' } },
              },
            ],
          },
          { token: TOKENS.managementApi },
        ),
      ],
    );
  });

  test('wrong roles: 403', async () => {
    await refused('wrong role for the route', { status: 403, code: 'FORBIDDEN' }, async () => [
      await submit(valid(), { token: TOKENS.readOnly }),
      await submit(valid(), { token: TOKENS.comms }),
      await submit(valid(), { token: TOKENS.monitoring }),
      await call<ErrorBody>(sidecar.url, 'GET', `${API}/orders?size=1`, { token: TOKENS.engine }),
      await call<ErrorBody>(sidecar.url, 'GET', `${API}/orders?size=1`, { token: TOKENS.monitoring }),
      await call<ErrorBody>(sidecar.url, 'POST', `${API}/results`, {
        token: TOKENS.readOnly,
        body: { results: [{ id: '1-1', status: 'success', result: { code: 0, message: 'x' } }] },
      }),
      await call<ErrorBody>(sidecar.url, 'GET', '/metrics', { token: TOKENS.engine }),
    ]);
  });

  test('a valid body with good credentials writes (the counts above can see a write)', async () => {
    const before = await documents();
    const answer = await submit(valid());
    expect(answer.status).toBe(201);
    expect((await documents()) - before).toBeGreaterThan(0);
  });

  // Last: ten failed logins from one address block it for a minute (LoginRateLimiter).
  test('missing and wrong credentials: 401, then 429 with Retry-After once too many failed; good credentials still served', async () => {
    await refused('missing credentials', { status: 401, code: 'UNAUTHENTICATED' }, async () => [
      await call<ErrorBody>(sidecar.url, 'POST', `${API}/commands`, { body: valid() }),
      await call<ErrorBody>(sidecar.url, 'GET', `${API}/orders?size=1`),
    ]);
    await refused('wrong credentials', { status: 401, code: 'UNAUTHENTICATED' }, async () => [
      await submit(valid(), { token: 'not-a-token' }),
      await submit(valid(), { token: `${TOKENS.admin}x` }),
      await submit(valid(), { basic: `${BASIC_USER.name}:wrong password` }),
      await submit(valid(), { basic: `nobody:${BASIC_USER.password}` }),
      await submit(valid(), { headers: { authorization: 'Basic !!!' } }),
      await submit(valid(), { headers: { authorization: `Digest ${TOKENS.admin}` } }),
      await submit(valid(), { headers: { authorization: 'Bearer' } }),
    ]);
    await refused(
      'brute force: failed logins beyond 10 a minute',
      { status: 429, code: 'RATE_LIMITED' },
      async () => {
        const answers: ApiAnswer<ErrorBody>[] = [];
        for (let i = 0; i < 4; i++) answers.push(await submit(valid(), { token: `guess-${i}` }));
        const last = answers[answers.length - 1];
        expect(last?.headers.get('retry-after')).toMatch(/^\d+$/);
        return answers.slice(answers.findIndex((a) => a.status === 429));
      },
    );
    // Good credentials from the same address are not locked out by those failures (a valid token is
    // checked without any costly work and cannot be guessed).
    expect((await submit(valid())).status).toBe(201);
  });
});

describe('TLS on the Management API side', () => {
  let dir: string;
  let stub: ManagementApiHandle;
  let proxy: FaultProxy;
  const tlsIndices: FaultIndices[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cm-faults-tls-'));
    const pki = pkiBuilder(dir, { days: 1 });
    pki.selfSigned('management-api', '127.0.0.1', 'IP:127.0.0.1');
    pki.selfSigned('other-ca', '127.0.0.1', 'IP:127.0.0.1');
    ({ stub, proxy } = await startProxiedManagementApi({
      key: pki.read('management-api.key'),
      cert: pki.read('management-api.crt'),
    }));
  }, 60_000);

  afterAll(async () => {
    await stopFaultScenario({ stub, proxy });
    for (const i of tlsIndices) await i.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('an untrusted certificate gets nothing out; the trusted one does', async () => {
    const variants = [
      { name: 'tls-untrusted', ca: undefined },
      { name: 'tls-wrong-ca', ca: path.join(dir, 'other-ca.crt') },
      { name: 'tls-trusted', ca: path.join(dir, 'management-api.crt') },
    ];
    const started = await Promise.all(
      variants.map(async (v) => {
        const idx = faultIndices(__filename, opensearchUrl(), v.name);
        tlsIndices.push(idx);
        await idx.seedGroup('only', 1);
        const s = await startSidecar({
          name: v.name,
          env: sidecarEnv({
            opensearchUrl: opensearchUrl(),
            indices: idx,
            usersFile: users.file,
            managementApiUrl: proxy.url,
            extra: {
              CM_POLL_INTERVAL_MS: '200',
              CM_RETRY_BASE_MS: '200',
              CM_RETRY_MAX_MS: '1000',
              ...(v.ca !== undefined && { CM_MANAGEMENT_API_CA_FILE: v.ca }),
            },
          }),
        });
        return { ...v, idx, sidecar: s };
      }),
    );
    for (const v of started) {
      const answer = await call(v.sidecar.url, 'POST', `${API}/commands`, {
        token: TOKENS.admin,
        body: valid(),
      });
      expect(answer.status).toBe(201);
    }
    const trusted = started.find((v) => v.name === 'tls-trusted');
    await waitFor(
      'the trusted sidecar to deliver',
      async () => (await trusted?.idx.statusCounts())?.sent === 1,
      {
        timeoutMs: 30_000,
      },
    );
    for (const v of started.filter((s) => s.name !== 'tls-trusted')) {
      const order = await waitFor(
        `${v.name} to record a failed delivery`,
        async () => {
          const [o] = await v.idx.allOrders();
          return o && (o.order.scheduling.attempts ?? 0) >= 2 ? o : undefined;
        },
        { timeoutMs: 30_000 },
      );
      expect(order.order.command.status).toBe('pending');
      expect(order.order.scheduling.last_error).toMatch(
        /certificate|self.signed|SELF_SIGNED|UNABLE_TO_VERIFY/i,
      );
      figures.add({
        case: `Management API certificate not trusted (${v.ca === undefined ? 'no CA configured' : 'another CA configured'})`,
        submitted: 1,
        refused: 1,
        written: 0,
        notes: `order stays pending, ${order.order.scheduling.attempts} attempts, last_error "${String(order.order.scheduling.last_error).slice(0, 80)}"; nothing reached the Management API`,
      });
    }
    // Only the trusted sidecar's call got through TLS to HTTP; the others were cut at the handshake.
    expect(proxy.calls.length).toBeGreaterThanOrEqual(1);
    expect(proxy.calls.every((c) => c.requestIds.length === 1)).toBe(true);
    expect(stub.received.length).toBe(1);
    expect(proxy.connections).toBeGreaterThan(proxy.calls.length);
  }, 180_000);
});
