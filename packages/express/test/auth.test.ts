import { CommandManagerError } from '@command-manager/core';
import {
  callerFromRoles,
  createAuthenticator,
  hashApiToken,
  hashPassword,
  parsePasswordHash,
  parseUsersFile,
  verifyPassword,
  BUILT_IN_ROLES,
} from '@command-manager/express';
import { ManualClock, RecordingLogger } from '@command-manager/test-support';
import { PASSWORDS, TOKENS, basic, testAuthConfig } from './support/fixtures';

const ip = '10.1.2.3';

describe('password hashes', () => {
  it('hashPassword writes scrypt$N$r$p$salt$hash that verifies the password and nothing else', async () => {
    const encoded = await hashPassword('correct horse', { cost: 1024 });
    expect(encoded).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    const parsed = parsePasswordHash(encoded);
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(await verifyPassword('correct horse', parsed)).toBe(true);
    expect(await verifyPassword('correct horsE', parsed)).toBe(false);
    expect(await hashPassword('correct horse', { cost: 1024 })).not.toBe(encoded); // salted
  });

  it('rejects malformed or hostile parameters', () => {
    expect(parsePasswordHash('bcrypt$x')).toEqual(expect.any(String));
    expect(parsePasswordHash('scrypt$1000$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==')).toMatch(
      /power of two/,
    );
    expect(parsePasswordHash(`scrypt$${2 ** 24}$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==`)).toMatch(
      /power of two/,
    );
  });
});

describe('users file', () => {
  it('names every bad key by JSON pointer', () => {
    let error: unknown;
    try {
      parseUsersFile({
        users: [
          { name: 'a:b', password_hash: 'plain', roles: ['nope'] },
          { name: 'x', roles: [] },
        ],
        tokens: [{ name: 't', token_sha256: 'abc', roles: ['admin'] }],
        roles: { custom: { operations: ['fly'], sources: ['Mars'], delegate: 'yes' } },
        certificates: [{ subject_cn: '', roles: ['admin'], extra: true }],
        extra: 1,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CommandManagerError);
    const pointers = (error as CommandManagerError).details.map((d) => d.pointer);
    expect(pointers).toEqual(
      expect.arrayContaining([
        '/extra',
        '/users/0/name',
        '/users/0/password_hash',
        '/users/0/roles/0',
        '/users/1/password_hash',
        '/users/1/roles',
        '/tokens/0/token_sha256',
        '/roles/custom/operations/0',
        '/roles/custom/sources/0',
        '/roles/custom/delegate',
        '/certificates/0/subject_cn',
        '/certificates/0/extra',
      ]),
    );
    expect((error as CommandManagerError).code).toBe('CONFIG_INVALID');
  });

  it('custom roles can be defined and used', async () => {
    const config = parseUsersFile({
      roles: {
        scanner: { operations: ['submit', 'read'], sources: ['Engine'], actions: ['scan'], delegate: false },
      },
      users: [
        {
          name: 'bot',
          password_hash: await hashPassword('pw', { cost: 1024 }),
          roles: ['scanner', 'read-only'],
        },
      ],
    });
    const caller = await createAuthenticator(config).authenticate({
      authorization: `Basic ${Buffer.from('bot:pw').toString('base64')}`,
      clientIp: ip,
    });
    expect([...caller.operations].sort()).toEqual(['read', 'submit']);
    expect(caller.principal).toMatchObject({
      name: 'bot',
      sources: ['Engine'],
      actions: ['scan'],
      canDelegate: false,
      roles: ['scanner', 'read-only'],
    });
  });
});

describe('roles → principal', () => {
  it('unions operations, sources and actions; "*" wins; delegation if any role delegates', () => {
    const c = callerFromRoles('svc', ['engine', 'content-manager'], BUILT_IN_ROLES, 'basic');
    expect(c.principal.sources).toEqual(['Engine', 'Content manager']);
    expect(c.principal.actions).toEqual(expect.arrayContaining(['restart', 'update', 'refresh']));
    expect(c.principal.canDelegate).toBe(false);
    const admin = callerFromRoles('root', ['admin', 'read-only'], BUILT_IN_ROLES, 'basic');
    expect(admin.principal).toMatchObject({ sources: '*', actions: '*', canDelegate: true });
    expect([...admin.operations].sort()).toEqual([
      'audit',
      'cancel',
      'cancel-any',
      'claim',
      'metrics',
      'read',
      'results',
      'submit',
    ]);
    expect(admin.principal.canCancelAny).toBe(true);
  });

  it("delegation does not grant cancelling other principals' requests: cancel-any does", () => {
    const mgmt = callerFromRoles('wazuh-server', ['management-api'], BUILT_IN_ROLES, 'basic');
    expect(mgmt.principal.canDelegate).toBe(true);
    expect(mgmt.principal.canCancelAny).toBe(false);
    const custom = callerFromRoles(
      'ops',
      ['operator'],
      { operator: { operations: ['cancel', 'cancel-any'], sources: [], actions: [], delegate: false } },
      'token',
    );
    expect(custom.principal.canCancelAny).toBe(true);
  });

  it('built-in roles: only content-manager sends update, only comms and pulling servers report results', () => {
    for (const [name, role] of Object.entries(BUILT_IN_ROLES)) {
      if (name !== 'content-manager' && name !== 'admin') expect(role.actions).not.toContain('update');
      // A server in pull delivery hands orders to its agents itself, so it also reports their results.
      if (name !== 'comms' && name !== 'wazuh-server' && name !== 'admin')
        expect(role.operations).not.toContain('results');
      if (name !== 'wazuh-server' && name !== 'admin') expect(role.operations).not.toContain('claim');
    }
  });
});

describe('authenticator', () => {
  it('Basic, bearer and a mapped client certificate each give their principal', async () => {
    const auth = createAuthenticator(await testAuthConfig());
    expect(
      (await auth.authenticate({ authorization: basic('wazuh-server'), clientIp: ip })).principal.name,
    ).toBe('wazuh-server');
    const token = await auth.authenticate({ authorization: `Bearer ${TOKENS.comms}`, clientIp: ip });
    expect(token.principal.name).toBe('comms-token');
    expect(token.method).toBe('token');
    const cert = await auth.authenticate({
      authorization: undefined,
      clientIp: ip,
      clientCertificateCn: 'comms-api.example',
    });
    expect(cert.principal.name).toBe('comms-cert');
    await expect(
      auth.authenticate({ authorization: undefined, clientIp: ip, clientCertificateCn: 'evil.example' }),
    ).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it('a bad Authorization header is never rescued by a certificate', async () => {
    const auth = createAuthenticator(await testAuthConfig());
    await expect(
      auth.authenticate({
        authorization: basic('admin', 'bad'),
        clientIp: ip,
        clientCertificateCn: 'comms-api.example',
      }),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('rate-limits failures per IP for the window, then lets the IP in again; other IPs are not affected', async () => {
    const clock = new ManualClock();
    const logger = new RecordingLogger();
    const auth = createAuthenticator(await testAuthConfig(), {
      clock,
      logger,
      rateLimit: { maxFailures: 2, windowMs: 30_000 },
    });
    const bad = { authorization: basic('admin', 'guess'), clientIp: ip };
    await expect(auth.authenticate(bad)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(auth.authenticate(bad)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const good = { authorization: basic('admin'), clientIp: ip };
    await expect(auth.authenticate(good)).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterSec: 30 });
    expect((await auth.authenticate({ ...good, clientIp: '10.9.9.9' })).principal.name).toBe('admin');
    clock.ms += 30_000;
    expect((await auth.authenticate(good)).principal.name).toBe('admin');
    expect(JSON.stringify(logger.lines)).not.toContain('guess');
    expect(JSON.stringify(logger.lines)).not.toContain(PASSWORDS.admin);
  });

  it('the rate limiter map stays bounded', async () => {
    const auth = createAuthenticator(await testAuthConfig(), {
      rateLimit: { maxFailures: 1, maxEntries: 10 },
    });
    for (let i = 0; i < 50; i++) {
      await expect(
        auth.authenticate({ authorization: 'Bearer x', clientIp: `10.0.0.${i}` }),
      ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    // The oldest IPs were forgotten (not blocked any more); the most recent are still blocked. (A valid
    // token is never blocked, so the probe is a bad one.)
    await expect(
      auth.authenticate({ authorization: 'Bearer y', clientIp: '10.0.0.0' }),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(
      auth.authenticate({ authorization: 'Bearer y', clientIp: '10.0.0.49' }),
    ).rejects.toMatchObject({
      code: 'RATE_LIMITED',
    });
  });

  it('tokens are stored as SHA-256 only', async () => {
    const config = await testAuthConfig();
    expect(config.tokens.map((t) => t.sha256.toString('hex'))).toContain(hashApiToken(TOKENS.engine));
    expect(JSON.stringify(config)).not.toContain(TOKENS.engine);
  });
});
