import request from 'supertest';
import { schemas as coreSchemas } from '@command-manager/core';
import { buildOpenApiDocument } from '@command-manager/express';
import { ajv2020 } from './support/ajv-from-core';
import { RecordingAuditLog } from './support/recording-audit-log';
import { CONTENT_MANAGER_BODY, basic, buildApp, groupCommand, inMemoryWorld } from './support/fixtures';

const P = '/_plugins/_command_manager';

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
  >;
  components: { schemas: Record<string, unknown> };
};

describe('/openapi.json', () => {
  it('is OpenAPI 3.1 and embeds core’s JSON Schemas as they are (generated, not duplicated)', async () => {
    const { app } = await buildApp(inMemoryWorld().service);
    const res = await request(app).get('/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as Doc;
    expect(doc.openapi).toBe('3.1.0');
    for (const [name, schema] of Object.entries(coreSchemas))
      expect(doc.components.schemas[name]).toEqual(schema);
    expect(doc.paths[`${P}/commands`]?.post?.responses['201']).toBeDefined();
  });

  it('real responses validate against the document', async () => {
    const world = inMemoryWorld({ agents: 3 });
    const { app } = await buildApp(world.service, { audit: new RecordingAuditLog() });
    const doc = buildOpenApiDocument({ defaultPageSize: 10, maxPageSize: 100 }) as unknown as Doc;
    const ajv = ajv2020();
    ajv.addSchema({ $id: 'openapi', components: doc.components }, 'openapi');
    const validate = (path: string, method: string, res: request.Response): void => {
      const op = doc.paths[path]?.[method];
      const declared = op?.responses[String(res.status)];
      if (!declared) throw new Error(`${method} ${path} ${res.status} is not declared`);
      const schema = declared.content?.['application/json']?.schema;
      if (!schema) return;
      const id = `r${Math.random()}`;
      ajv.addSchema(
        JSON.parse(JSON.stringify(schema).replace(/"#\/components/g, '"openapi#/components')),
        id,
      );
      const check = ajv.getSchema(id);
      const ok = check(res.body);
      if (!ok)
        throw new Error(
          `${method} ${path} ${res.status}: ${JSON.stringify(check.errors)}\n${JSON.stringify(res.body)}`,
        );
    };
    const admin = basic('admin');

    const submitted = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', admin)
      .send({ commands: [groupCommand('admin'), CONTENT_MANAGER_BODY.commands[0]] });
    validate(`${P}/commands`, 'post', submitted);
    const eligible = { ...groupCommand('admin'), agent_status: ['active'], exclude_agents: ['001'] };
    const listed = { ...groupCommand('admin'), target: { type: 'agents', ids: ['002', 'nope'] } };
    const both = { commands: [eligible, listed] };
    const submitAs = (query: string, token?: string): request.Test => {
      const req = request(app).post(`${P}/commands${query}`).set('Authorization', admin);
      return (token === undefined ? req : req.set('Plan-Token', token)).send(both);
    };
    const dryRun = await submitAs('?dry_run=true');
    expect(dryRun.status).toBe(200);
    world.agents.addAgent({ id: '009', groups: ['Test'], status: 'active' });
    const changed = await submitAs('', (dryRun.body as { plan_token: string }).plan_token);
    expect(changed.status).toBe(412);
    for (const res of [dryRun, changed, await submitAs('')]) validate(`${P}/commands`, 'post', res);
    validate(
      `${P}/commands`,
      'post',
      await request(app)
        .post(`${P}/commands?summary=true`)
        .set('Authorization', admin)
        .send({ commands: [groupCommand('admin')] }),
    );
    const live = { ...groupCommand('admin'), membership: 'live', delivery_window_s: 3600 };
    const liveAnswer = await request(app)
      .post(`${P}/commands?summary=true`)
      .set('Authorization', admin)
      .send({ commands: [live] });
    validate(`${P}/commands`, 'post', liveAnswer);
    const liveId = (liveAnswer.body as { commands: Array<{ request_id: number }> }).commands[0]?.request_id;
    const liveRequest = await request(app).get(`${P}/requests/${liveId}`).set('Authorization', admin);
    expect(liveRequest.body).toMatchObject({ request: { command: live, live_until: expect.any(String) } });
    validate(`${P}/requests/{id}`, 'get', liveRequest);
    validate(
      `${P}/commands`,
      'post',
      await request(app)
        .post(`${P}/commands`)
        .set('Authorization', admin)
        .send({ commands: [{}] }),
    );
    validate(`${P}/commands`, 'post', await request(app).post(`${P}/commands`).send({}));
    validate(
      `${P}/requests/{id}`,
      'get',
      await request(app).get(`${P}/requests/1`).set('Authorization', admin),
    );
    validate(
      `${P}/requests/{id}`,
      'get',
      await request(app).get(`${P}/requests/404`).set('Authorization', admin),
    );
    validate(
      `${P}/requests/{id}/events`,
      'get',
      await request(app).get(`${P}/requests/404/events`).set('Authorization', admin),
    );
    validate(
      `${P}/orders/{id}`,
      'get',
      await request(app).get(`${P}/orders/1-1`).set('Authorization', admin),
    );
    validate(`${P}/orders`, 'get', await request(app).get(`${P}/orders?size=2`).set('Authorization', admin));
    validate(`${P}/orders`, 'get', await request(app).get(`${P}/orders?size=0`).set('Authorization', admin));
    validate(
      `${P}/results`,
      'post',
      await request(app)
        .post(`${P}/results`)
        .set('Authorization', admin)
        .send({
          results: [
            { id: '1-1', status: 'success', result: { code: 0, message: 'ok' } },
            { id: '5-5', status: 'success', result: { code: 0, message: 'ok' } },
          ],
        }),
    );
    validate(
      `${P}/orders/{id}/result`,
      'post',
      await request(app)
        .post(`${P}/orders/1-1/result`)
        .set('Authorization', admin)
        .send({ status: 'success', result: { code: 0, message: 'ok' } }),
    );
    validate(
      `${P}/requests/{id}/cancel`,
      'post',
      await request(app).post(`${P}/requests/1/cancel`).set('Authorization', admin),
    );
    validate(
      `${P}/requests/{id}`,
      'get',
      await request(app).get(`${P}/requests/1`).set('Authorization', admin),
    );
    const audited = await request(app).get(`${P}/audit?size=3`).set('Authorization', admin);
    expect(audited.body.records.length).toBe(3);
    validate(`${P}/audit`, 'get', audited);
    validate(`${P}/audit`, 'get', await request(app).get(`${P}/audit?size=0`).set('Authorization', admin));
    validate('/health', 'get', await request(app).get('/health'));
    validate('/ready', 'get', await request(app).get('/ready'));
    // The check itself can fail: a body that drifts from the document is caught.
    const drifted = {
      status: 201,
      body: { _index: 'x', result: 'CREATED', commands: [{ request_id: 1 }] },
    } as request.Response;
    expect(() => validate(`${P}/commands`, 'post', drifted)).toThrow(/must have required property/);
  });
});
