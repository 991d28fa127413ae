import { createAuthenticator, type AuthRequestInfo } from '@command-manager/express';
import { TOKENS, basic, testAuthConfig } from './support/fixtures';

const ip = '10.7.7.7';

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? 'error';
  }
}

function tally(codes: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const c of codes) t[c] = (t[c] ?? 0) + 1;
  return t;
}

describe('failed-login limits (counted when attempts start, per identity and per address)', () => {
  it('120 parallel wrong passwords from one address: only the first 10 are verified, the rest are refused', async () => {
    const auth = createAuthenticator(await testAuthConfig(), {
      rateLimit: { maxFailures: 10 },
      verification: { maxConcurrent: 2, maxQueued: 200, maxPerAddress: 200 },
    });
    const codes = await Promise.all(
      Array.from({ length: 120 }, () =>
        outcome(auth.authenticate({ authorization: basic('admin', 'guess'), clientIp: ip })),
      ),
    );
    expect(tally(codes)).toEqual({ UNAUTHENTICATED: 10, RATE_LIMITED: 110 });
  });

  it('10 bad tokens from an address do not lock out a valid token from the same address', async () => {
    const auth = createAuthenticator(await testAuthConfig(), { rateLimit: { maxFailures: 10 } });
    for (let i = 0; i < 12; i++)
      await outcome(auth.authenticate({ authorization: `Bearer bad-${i}`, clientIp: ip }));
    await expect(auth.authenticate({ authorization: 'Bearer bad-x', clientIp: ip })).rejects.toMatchObject({
      code: 'RATE_LIMITED',
    });
    const caller = await auth.authenticate({ authorization: `Bearer ${TOKENS.engine}`, clientIp: ip });
    expect(caller.principal.name).toBe('engine-token');
  });

  it("another user's failed passwords from the same address do not lock out a valid Basic login", async () => {
    const auth = createAuthenticator(await testAuthConfig(), {
      rateLimit: { maxFailures: 10 },
      verification: { maxConcurrent: 2, maxQueued: 200, maxPerAddress: 200 },
    });
    await Promise.all(
      Array.from({ length: 60 }, () =>
        outcome(auth.authenticate({ authorization: basic('admin', 'guess'), clientIp: ip })),
      ),
    );
    await expect(auth.authenticate({ authorization: basic('admin'), clientIp: ip })).rejects.toMatchObject({
      code: 'RATE_LIMITED',
    });
    const info: AuthRequestInfo = { authorization: basic('wazuh-server'), clientIp: ip };
    expect((await auth.authenticate(info)).principal.name).toBe('wazuh-server');
  });

  it('one address spraying many user names is stopped by the per-address password cap', async () => {
    const auth = createAuthenticator(await testAuthConfig(), {
      rateLimit: { maxFailures: 10, maxPasswordFailuresPerAddress: 30 },
      verification: { maxConcurrent: 2, maxQueued: 200, maxPerAddress: 200 },
    });
    const sprayed = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        outcome(
          auth.authenticate({
            authorization: `Basic ${Buffer.from(`user-${i}:guess`).toString('base64')}`,
            clientIp: '10.8.8.8',
          }),
        ),
      ),
    );
    expect(tally(sprayed)).toEqual({ UNAUTHENTICATED: 30, RATE_LIMITED: 20 });
  });

  it('password verifications are bounded: beyond the running and queued cap a login is refused at once', async () => {
    const auth = createAuthenticator(await testAuthConfig(), {
      rateLimit: { maxFailures: 1000 },
      verification: { maxConcurrent: 1, maxQueued: 3 },
    });
    const codes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        outcome(
          auth.authenticate({
            authorization: `Basic ${Buffer.from(`user-${i}:guess`).toString('base64')}`,
            clientIp: `10.9.0.${i}`,
          }),
        ),
      ),
    );
    expect(tally(codes)).toEqual({ UNAUTHENTICATED: 4, RATE_LIMITED: 16 });
    // Refused without verification: they are not failures, so those addresses may try again at once.
    const again = await outcome(auth.authenticate({ authorization: basic('admin'), clientIp: '10.9.0.19' }));
    expect(again).toBe('ok');
  });

  it('one address cannot fill the verification queue: a login from another address still gets a slot', async () => {
    const auth = createAuthenticator(await testAuthConfig(), {
      rateLimit: { maxFailures: 1000 },
      verification: { maxConcurrent: 1, maxQueued: 3, maxPerAddress: 2 },
    });
    const flood = Array.from({ length: 20 }, (_, i) =>
      outcome(
        auth.authenticate({
          authorization: `Basic ${Buffer.from(`sprayed-${i}:guess`).toString('base64')}`,
          clientIp: '10.5.5.5',
        }),
      ),
    );
    const valid = outcome(auth.authenticate({ authorization: basic('reader'), clientIp: '10.5.5.6' }));
    expect(await valid).toBe('ok');
    expect(tally(await Promise.all(flood))).toEqual({ UNAUTHENTICATED: 2, RATE_LIMITED: 18 });
  });
});
