import request from 'supertest';
import { TOKENS, basic, buildApp, inMemoryWorld } from './support/fixtures';

describe('/ready is cheap for unauthenticated callers', () => {
  it('50 probes cost one readiness check while the verdict is fresh', async () => {
    let checks = 0;
    const { app } = await buildApp(inMemoryWorld().service, {
      readiness: async () => {
        checks++;
        await new Promise((r) => setTimeout(r, 20));
        return { ready: true, checks: { opensearch: true, templates: true } };
      },
      readyCacheMs: 60_000,
    });
    const answers = await Promise.all(Array.from({ length: 25 }, () => request(app).get('/ready')));
    for (let i = 0; i < 25; i++) answers.push(await request(app).get('/ready'));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(checks).toBe(1);
  });

  it('a failed check is cached too and answers 503', async () => {
    let checks = 0;
    const { app } = await buildApp(inMemoryWorld().service, {
      readiness: async () => {
        checks++;
        throw new Error('down');
      },
      readyCacheMs: 60_000,
    });
    for (let i = 0; i < 10; i++) expect((await request(app).get('/ready')).status).toBe(503);
    expect(checks).toBe(1);
  });
});

describe('trusted proxies decide the client address the failed-login limits see', () => {
  const flood = async (app: Parameters<typeof request>[0], forwardedFor: string): Promise<void> => {
    for (let i = 0; i < 12; i++) {
      await request(app)
        .get('/_plugins/_command_manager/orders')
        .set('Authorization', `Bearer bad-${i}`)
        .set('X-Forwarded-For', forwardedFor);
    }
  };

  it('with the proxy trusted, one client behind it does not block another', async () => {
    const { app } = await buildApp(inMemoryWorld().service, { trustProxy: ['127.0.0.1', '::1'] });
    await flood(app, '203.0.113.7');
    const blocked = await request(app)
      .get('/_plugins/_command_manager/orders')
      .set('Authorization', 'Bearer bad-again')
      .set('X-Forwarded-For', '203.0.113.7');
    expect(blocked.status).toBe(429);
    const other = await request(app)
      .get('/_plugins/_command_manager/orders')
      .set('Authorization', basic('reader', 'wrong'))
      .set('X-Forwarded-For', '203.0.113.8');
    expect(other.status).toBe(401);
  });

  it('without it, X-Forwarded-For is ignored (a client cannot pick its own address)', async () => {
    const { app } = await buildApp(inMemoryWorld().service);
    await flood(app, '203.0.113.7');
    const spoofed = await request(app)
      .get('/_plugins/_command_manager/orders')
      .set('Authorization', 'Bearer bad-again')
      .set('X-Forwarded-For', '198.51.100.1');
    expect(spoofed.status).toBe(429);
    // A valid token from the same (flooded) address is still served.
    const valid = await request(app)
      .get('/_plugins/_command_manager/orders')
      .set('Authorization', `Bearer ${TOKENS.engine}`);
    expect(valid.status).toBe(403); // authenticated; the engine role does not grant `read`
  });
});
