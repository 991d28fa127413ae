import request from 'supertest';
import { CommandManagerError, ErrorCodes, type ErrorCode } from '@command-manager/core';
import { HTTP_STATUS_BY_CODE, httpStatusOf } from '@command-manager/express';
import { failingApi, fixedSubmitApi } from './support/fake-api';
import { basic, buildApp, groupCommand } from './support/fixtures';

const SUBMIT = '/_plugins/_command_manager/commands';

describe('the one table from error code to status', () => {
  it('maps every core error code, client errors to 4xx and server errors to 5xx', () => {
    const codes = Object.values(ErrorCodes) as ErrorCode[];
    expect(Object.keys(HTTP_STATUS_BY_CODE).sort()).toEqual([...codes].sort());
    for (const code of codes) expect(httpStatusOf(code)).toBeGreaterThanOrEqual(400);
    expect(httpStatusOf(ErrorCodes.VALIDATION_FAILED)).toBe(400);
    expect(httpStatusOf(ErrorCodes.UNAUTHENTICATED)).toBe(401);
    expect(httpStatusOf(ErrorCodes.FORBIDDEN)).toBe(403);
    expect(httpStatusOf(ErrorCodes.NOT_FOUND)).toBe(404);
    expect(httpStatusOf(ErrorCodes.IDEMPOTENCY_KEY_REUSED)).toBe(409);
    expect(httpStatusOf(ErrorCodes.PAYLOAD_TOO_LARGE)).toBe(413);
    expect(httpStatusOf(ErrorCodes.FANOUT_EXCEEDED)).toBe(422);
    expect(httpStatusOf(ErrorCodes.NO_TARGET_RESOLVED)).toBe(422);
    expect(httpStatusOf(ErrorCodes.RATE_LIMITED)).toBe(429);
    expect(httpStatusOf(ErrorCodes.STORE_UNAVAILABLE)).toBe(503);
    expect(httpStatusOf(ErrorCodes.INTERNAL)).toBe(500);
  });
});

describe('error answers', () => {
  const submit = async (error: unknown): Promise<request.Response> => {
    const { app } = await buildApp(failingApi(error));
    return request(app)
      .post(SUBMIT)
      .set('Authorization', basic('admin'))
      .send({ commands: [groupCommand('admin')] });
  };

  it('STORE_UNAVAILABLE is a 503 with Retry-After from the error', async () => {
    const res = await submit(
      new CommandManagerError(ErrorCodes.STORE_UNAVAILABLE, 'opensearch is down', { retryAfterSec: 7 }),
    );
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body).toEqual({
      error: { code: 'STORE_UNAVAILABLE', message: 'opensearch is down', details: [] },
    });
  });

  it('STORE_UNAVAILABLE without a retry hint still says Retry-After', async () => {
    const res = await submit(new CommandManagerError(ErrorCodes.STORE_UNAVAILABLE, 'down'));
    expect(res.status).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it.each([
    [ErrorCodes.FANOUT_EXCEEDED, 422],
    [ErrorCodes.ARGS_TOO_LARGE, 413],
    [ErrorCodes.REQUEST_WRITE_TOO_LARGE, 422],
    [ErrorCodes.NO_TARGET_RESOLVED, 422],
    [ErrorCodes.IDEMPOTENCY_KEY_REUSED, 409],
    [ErrorCodes.IDEMPOTENCY_IN_PROGRESS, 409],
    [ErrorCodes.BATCH_TOO_LARGE, 413],
    [ErrorCodes.UNKNOWN_ACTION, 400],
  ] as const)('%s is a %i with details', async (code, status) => {
    const details = [{ pointer: '/commands/0/target/id', message: 'why' }];
    const res = await submit(new CommandManagerError(code, 'msg', { details }));
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: { code, message: 'msg', details } });
  });

  it('an unexpected error is a 500 with a generic message: no stack, no message leak; logged', async () => {
    const secret = new Error('connect ECONNREFUSED 10.0.0.1:9200 password=hunter2');
    const { app, logger } = await buildApp(failingApi(secret));
    const res = await request(app)
      .post(SUBMIT)
      .set('Authorization', basic('admin'))
      .send({ commands: [groupCommand('admin')] });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'INTERNAL', message: 'internal error', details: [] } });
    expect(res.text).not.toMatch(/ECONNREFUSED|hunter2|at .*\.ts/);
    expect(
      logger.lines.some((l) => l.level === 'error' && JSON.stringify(l.meta).includes('ECONNREFUSED')),
    ).toBe(true);
  });

  it('a known INTERNAL error (a store operation that failed) answers the stable body; the log has the rest', async () => {
    const failure = new CommandManagerError(
      ErrorCodes.INTERNAL,
      'OpenSearch search orders failed (400 x_content_parse_exception)',
      { cause: new Error('[1:2] failed to parse field [search_after]') },
    );
    const { app, logger } = await buildApp(failingApi(failure));
    const res = await request(app)
      .post(SUBMIT)
      .set('Authorization', basic('admin'))
      .send({ commands: [groupCommand('admin')] });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'INTERNAL', message: 'internal error', details: [] } });
    expect(logger.lines.some((l) => JSON.stringify(l.meta).includes('x_content_parse_exception'))).toBe(true);
  });

  it('a thrown non-Error is a 500 too', async () => {
    const res = await submit('a string');
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('INTERNAL');
  });

  it('a partial write is PARTIAL_WRITE naming the request, not a 201', async () => {
    const { app } = await buildApp(
      fixedSubmitApi({
        index: 'wazuh-commands',
        commands: [
          {
            request_id: 7,
            orders: 3,
            unresolved: [],
            write_state: 'partial',
            write_errors: [{ id: '7-4', reason: 'mapping' }],
          },
        ],
      }),
    );
    const res = await request(app)
      .post(SUBMIT)
      .set('Authorization', basic('admin'))
      .send({ commands: [groupCommand('admin')] });
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('PARTIAL_WRITE');
    expect(res.body.error.details).toEqual([
      { pointer: '/commands/0', message: expect.stringContaining('request 7') },
    ]);
  });

  it('an unknown route is a 404 of the same shape', async () => {
    const { app } = await buildApp(failingApi(new Error('unused')));
    const res = await request(app).get('/_plugins/_command_manager/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: 'no such route', details: [] } });
  });
});
