import request from 'supertest';
import { InMemoryLockStore, MAX_CLAIM_SIZE } from '@command-manager/core';
import { PullDelivery, Scheduler } from '@command-manager/scheduler';
import { BUILT_IN_ROLES, buildOpenApiDocument } from '@command-manager/express';
import { ajv2020 } from './support/ajv-from-core';
import { basic, buildApp, groupCommand, inMemoryWorld } from './support/fixtures';

const P = '/_plugins/_command_manager';

type Doc = {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
  >;
  components: { schemas: Record<string, unknown> };
};

function pullWorld(agents = 3): {
  world: ReturnType<typeof inMemoryWorld>;
  pull: PullDelivery;
  scheduler: Scheduler;
} {
  const world = inMemoryWorld({ agents });
  const scheduler = new Scheduler({
    orders: world.orders,
    requests: world.requests,
    locks: new InMemoryLockStore(),
    delivery: { isBlocked: () => true, deliver: () => Promise.reject(new Error('no push')) },
    owner: 'sidecar-a',
    options: { mode: 'pull' },
  });
  const pull = new PullDelivery({ orders: world.orders, admission: scheduler });
  return { world, pull, scheduler };
}

describe('pull delivery routes', () => {
  const doc = buildOpenApiDocument() as unknown as Doc;
  const ajv = ajv2020();
  ajv.addSchema({ $id: 'openapi', components: doc.components }, 'openapi');
  const validate = (path: string, res: request.Response): void => {
    const declared = doc.paths[path]?.post?.responses[String(res.status)];
    if (!declared) throw new Error(`POST ${path} ${res.status} is not declared`);
    const schema = declared.content?.['application/json']?.schema;
    if (!schema) return;
    const id = `r${Math.random()}`;
    ajv.addSchema(JSON.parse(JSON.stringify(schema).replace(/"#\/components/g, '"openapi#/components')), id);
    const check = ajv.getSchema(id);
    if (!check(res.body)) throw new Error(`${path} ${res.status}: ${JSON.stringify(check.errors)}`);
  };

  it('claim and ack answer as the OpenAPI document declares', async () => {
    const { world, pull } = pullWorld();
    const { app } = await buildApp(world.service, { pull });
    const admin = basic('admin');
    await request(app)
      .post(`${P}/commands`)
      .set('Authorization', admin)
      .send({ commands: [groupCommand('admin')] });

    const claimed = await request(app)
      .post(`${P}/orders/_claim`)
      .set('Authorization', admin)
      .send({ consumer: 'server-1', size: 2 });
    expect(claimed.status).toBe(200);
    expect(claimed.body.orders).toHaveLength(2);
    expect(typeof claimed.body.lease_expires_at).toBe('string');
    validate(`${P}/orders/_claim`, claimed);

    const ids = (claimed.body.orders as Array<{ id: string }>).map((o) => o.id);
    const acked = await request(app)
      .post(`${P}/orders/_ack`)
      .set('Authorization', admin)
      .send({ consumer: 'server-1', orders: [...ids, '99-1'] });
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({ applied: 2, unknown: 1, not_yours: 0, expired: 0, conflict: 0 });
    validate(`${P}/orders/_ack`, acked);

    const empty = await request(app)
      .post(`${P}/orders/_claim`)
      .set('Authorization', admin)
      .send({ consumer: 'server-1', size: 2, target: { type: 'agent', id: 'nobody' } });
    expect(empty.body).toEqual({ orders: [] });
    validate(`${P}/orders/_claim`, empty);

    const bad = await request(app).post(`${P}/orders/_claim`).set('Authorization', admin).send({ size: 5 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([{ pointer: '/consumer', message: 'is required' }]);
    validate(`${P}/orders/_claim`, bad);
    const badAck = await request(app)
      .post(`${P}/orders/_ack`)
      .set('Authorization', admin)
      .send({ consumer: 'server-1', orders: ['not-an-id'] });
    expect(badAck.status).toBe(400);
    expect(badAck.body.error.details[0].pointer).toBe('/orders/0');
  });

  it('takes the largest legal claim (1,000 orders) and ack (1,000 ids), and refuses one more', async () => {
    const { world, pull } = pullWorld(MAX_CLAIM_SIZE);
    const { app } = await buildApp(world.service, { pull });
    const admin = basic('admin');
    const submitted = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', admin)
      .send({ commands: [groupCommand('admin')] });
    expect(submitted.status).toBe(201);

    const tooMany = await request(app)
      .post(`${P}/orders/_claim`)
      .set('Authorization', admin)
      .send({ consumer: 'server-1', size: MAX_CLAIM_SIZE + 1 });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.details[0].pointer).toBe('/size');

    const claimed = await request(app)
      .post(`${P}/orders/_claim`)
      .set('Authorization', admin)
      .send({ consumer: 'server-1', size: MAX_CLAIM_SIZE });
    expect(claimed.status).toBe(200);
    const ids = (claimed.body.orders as Array<{ id: string }>).map((o) => o.id);
    expect(new Set(ids).size).toBe(MAX_CLAIM_SIZE);
    validate(`${P}/orders/_claim`, claimed);

    const ackTooMany = await request(app)
      .post(`${P}/orders/_ack`)
      .set('Authorization', admin)
      .send({ consumer: 'server-1', orders: [...ids, '99-1'] });
    expect(ackTooMany.status).toBe(400);
    expect(ackTooMany.body.error.details[0].pointer).toBe('/orders');

    const acked = await request(app)
      .post(`${P}/orders/_ack`)
      .set('Authorization', admin)
      .send({ consumer: 'server-1', orders: ids });
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({
      applied: MAX_CLAIM_SIZE,
      unknown: 0,
      not_yours: 0,
      expired: 0,
      conflict: 0,
    });
    validate(`${P}/orders/_ack`, acked);
    // Acknowledged orders are no longer anyone's to claim.
    const again = await request(app)
      .post(`${P}/orders/_claim`)
      .set('Authorization', admin)
      .send({ consumer: 'server-2', size: MAX_CLAIM_SIZE });
    expect(again.body).toEqual({ orders: [] });
  });

  it('needs the `claim` operation, which the built-in wazuh-server role grants', async () => {
    const { world, pull } = pullWorld();
    const { app } = await buildApp(world.service, { pull });
    // The fixture's `wazuh-server` user has the management-api role, which does not claim.
    const res = await request(app)
      .post(`${P}/orders/_claim`)
      .set('Authorization', basic('wazuh-server'))
      .send({ consumer: 'server-1' });
    expect(res.status).toBe(403);
    expect(BUILT_IN_ROLES['wazuh-server']?.operations).toEqual(['claim', 'results', 'read']);
    expect(BUILT_IN_ROLES['management-api']?.operations).not.toContain('claim');
  });

  it('answers 404 naming the setting when this sidecar pushes', async () => {
    const { world } = pullWorld();
    const { app } = await buildApp(world.service);
    const res = await request(app)
      .post(`${P}/orders/_claim`)
      .set('Authorization', basic('admin'))
      .send({ consumer: 'server-1' });
    expect(res.status).toBe(404);
    expect(res.body.error.message).toContain('scheduler.delivery');
    validate(`${P}/orders/_claim`, res);
  });
});
