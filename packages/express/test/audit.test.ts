import request from 'supertest';
import { verifyAuditChain } from '@command-manager/core';
import { RecordingAuditLog } from './support/recording-audit-log';
import { basic, bearer, buildApp, groupCommand, inMemoryWorld, TOKENS } from './support/fixtures';

const P = '/_plugins/_command_manager';

/** Entries are recorded on `finish`, after supertest has the answer: wait for the count. */
async function recorded(log: RecordingAuditLog, n: number): Promise<void> {
  while (log.records.length < n) await new Promise((r) => setImmediate(r));
}

describe('audit recording', () => {
  it('records every POST and every refused call, with who, from where, the operation and the code', async () => {
    const audit = new RecordingAuditLog();
    const { app } = await buildApp(inMemoryWorld({ agents: 2 }).service, { audit });
    const ok = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('admin'))
      .send({ commands: [groupCommand('admin')] });
    expect(ok.status).toBe(201);
    // Not recorded: a successful read, an unknown route, a 400 on a read.
    await request(app).get(`${P}/requests/1`).set('Authorization', basic('reader')).expect(200);
    await request(app).get(`${P}/nowhere`).set('Authorization', basic('reader')).expect(404);
    await request(app).get(`${P}/requests/x`).set('Authorization', basic('reader')).expect(400);
    // Recorded: refusals of reads and writes, and a POST refused as invalid.
    await request(app).get(`${P}/requests/1`).expect(401);
    await request(app).post(`${P}/requests/1/cancel`).set('Authorization', bearer(TOKENS.comms)).expect(403);
    await request(app).post(`${P}/commands`).set('Authorization', basic('admin')).send({}).expect(400);
    await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('admin'))
      .set('Content-Type', 'application/json')
      .send(`{"commands":[${'1,'.repeat(40_000)}1]}`)
      .expect(413);
    await recorded(audit, 5);
    expect(audit.records.map((r) => [r.route, r.status, r.outcome, r.code, r.principal])).toEqual([
      [`POST ${P}/commands`, 201, 'ok', undefined, 'admin'],
      [`GET ${P}/requests/:id`, 401, 'refused', 'UNAUTHENTICATED', undefined],
      [`POST ${P}/requests/:id/cancel`, 403, 'refused', 'FORBIDDEN', 'comms-token'],
      [`POST ${P}/commands`, 400, 'refused', 'VALIDATION_FAILED', 'admin'],
      [`POST ${P}/commands`, 413, 'refused', 'PAYLOAD_TOO_LARGE', 'admin'],
    ]);
    expect(audit.records[0]).toMatchObject({ operation: 'submit', auth_method: 'basic', request_ids: [1] });
    expect(audit.records[0]?.client_ip).toMatch(/127\.0\.0\.1$/);
    expect(audit.records[2]).toMatchObject({ operation: 'cancel', auth_method: 'token', request_ids: [1] });
    expect(verifyAuditChain(audit.records).ok).toBe(true);
  });

  it('GET /audit needs the audit operation (the auditor role), and is absent without an audit log', async () => {
    const audit = new RecordingAuditLog();
    const { app } = await buildApp(inMemoryWorld().service, { audit });
    await request(app).get(`${P}/audit`).set('Authorization', basic('reader')).expect(403);
    const page = await request(app)
      .get(`${P}/audit?outcome=refused&size=1`)
      .set('Authorization', basic('admin'));
    expect(page.status).toBe(200);
    expect(page.body.records).toHaveLength(1);
    expect(page.body.records[0]).toMatchObject({ status: 403, outcome: 'refused', principal: 'reader' });
    const bad = await request(app)
      .get(`${P}/audit?outcome=nope&principal=`)
      .set('Authorization', basic('admin'));
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { pointer: string }) => d.pointer)).toEqual([
      '/query/principal',
      '/query/outcome',
    ]);

    const { app: without } = await buildApp(inMemoryWorld().service);
    await request(without).get(`${P}/audit`).set('Authorization', basic('admin')).expect(404);
  });
});
