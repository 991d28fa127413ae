import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { basic, buildApp, groupCommand, inMemoryWorld, type InMemoryWorld } from './support/fixtures';

const P = '/_plugins/_command_manager';
// eslint-disable-next-line no-control-regex -- control characters are what makes these values invalid
const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/;

/** One breaking change to a valid command: each makes the command invalid on its own. */
const brokenCommand: fc.Arbitrary<unknown> = fc.oneof(
  // Not `user`: absent, it is the caller (wazuh-bodies.int.test.ts).
  fc.constantFrom('source', 'target', 'action', 'timeout').map((k) => {
    const c: Record<string, unknown> = groupCommand('admin');
    delete c[k];
    return c;
  }),
  fc
    .record({
      key: fc.constantFrom('source', 'user', 'target', 'action', 'timeout'),
      value: fc.oneof(
        fc.constant(null),
        fc.boolean(),
        fc.double(),
        fc.array(fc.integer()),
        fc.constant(''),
        fc.constant({}),
      ),
    })
    .map(({ key, value }) => ({ ...groupCommand('admin'), [key]: value })),
  fc
    .integer()
    .filter((n) => n < 1 || n > 32767)
    .map((timeout) => ({ ...groupCommand('admin'), timeout })),
  fc
    .string({ minLength: 1 })
    .filter((s) => !['agent', 'group', 'server'].includes(s.toLowerCase()))
    .map((type) => ({ ...groupCommand('admin'), target: { type, id: 'Test' } })),
  fc
    .string({ minLength: 1 })
    .filter(
      (k) => !['source', 'user', 'target', 'action', 'timeout', 'max_concurrency', 'max_errors'].includes(k),
    )
    .map((k) => ({ ...groupCommand('admin'), [k]: 1 })),
  fc
    .string({ minLength: 1, maxLength: 20 })
    .filter((n) => !['set-group', 'fetch-config', 'restart', 'update', 'refresh'].includes(n))
    .map((name) => ({ ...groupCommand('admin'), action: { name, args: {} } })),
  fc
    .dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.jsonValue(), { minKeys: 1, maxKeys: 3 })
    .map((args) => ({ ...groupCommand('admin'), action: { name: 'restart', args } })),
  fc
    .string({ maxLength: 300 })
    .filter((s) => s.length === 0 || s.length > 256 || CONTROL_CHAR.test(s))
    .map((user) => ({ ...groupCommand('admin'), user })),
);

const malformedBody: fc.Arbitrary<{ raw: string }> = fc.oneof(
  // Any JSON value that is not a batch.
  fc
    .jsonValue()
    .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v) || !('commands' in v))
    .map((v) => ({ raw: JSON.stringify(v) ?? 'null' })),
  // A batch whose commands array is broken, or holds at least one broken command.
  fc
    .oneof(
      fc.constant([]),
      fc.jsonValue().filter((v) => !Array.isArray(v)),
    )
    .map((commands) => ({ raw: JSON.stringify({ commands }) })),
  fc
    .tuple(
      fc.array(fc.constant(groupCommand('admin')), { maxLength: 2 }),
      brokenCommand,
      fc.array(fc.constant(groupCommand('admin')), { maxLength: 2 }),
    )
    .map(([a, bad, b]) => ({ raw: JSON.stringify({ commands: [...a, bad, ...b] }) })),
  fc
    .record({ extra: fc.string({ minLength: 1 }).filter((k) => k !== 'commands') })
    .map(({ extra }) => ({ raw: JSON.stringify({ commands: [groupCommand('admin')], [extra]: true }) })),
  // Not JSON at all.
  fc
    .string()
    .filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    })
    .map((raw) => ({ raw })),
);

describe('fuzz: malformed bodies', () => {
  let world: InMemoryWorld;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    world = inMemoryWorld({ agents: 2 });
    const { app } = await buildApp(world.service);
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  });

  const post = async (path: string, raw: string): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: basic('admin'), 'content-type': 'application/json' },
      body: raw,
    });
    return { status: res.status, body: await res.json() };
  };

  it('2,000 malformed submissions all get a 4xx of the one error shape and write nothing', async () => {
    await fc.assert(
      fc.asyncProperty(malformedBody, async ({ raw }) => {
        const { status, body } = await post(`${P}/commands`, raw);
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
        expect(body).toEqual({
          error: { code: expect.any(String), message: expect.any(String), details: expect.any(Array) },
        });
      }),
      { numRuns: 2000 },
    );
    expect(world.orders.size).toBe(0);
    expect(await world.requests.getRequest(1)).toBeUndefined();
  }, 120_000);

  it('1,000 malformed result reports all get a 4xx and change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc
            .jsonValue()
            .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v) || !('results' in v)),
          fc.jsonValue().map((results) => ({
            results: Array.isArray(results) && results.length > 0 ? [...results, 1] : results,
          })),
        ),
        async (v) => {
          const { status } = await post(`${P}/results`, JSON.stringify(v));
          expect(status).toBeGreaterThanOrEqual(400);
          expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: 1000 },
    );
    expect(world.orders.size).toBe(0);
  }, 60_000);
});
