import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { errorMiddleware } from '../src/internal/error-middleware';
import { jsonBody } from '../src/internal/json-body';

// The JSON body reader: a body with a declared length is read directly, a chunked or compressed one by
// express.json; both must give the same body and the same errors.

const LIMIT = 1024;
let url: URL;
let close: () => Promise<void>;

beforeAll(async () => {
  const app = express();
  app.post('/echo', jsonBody(LIMIT), (req, res) => {
    res.json({ body: req.body as unknown });
  });
  app.use(errorMiddleware(undefined));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/echo`);
  close = () => new Promise((resolve) => server.close(() => resolve()));
});

afterAll(() => close());

type Framing = 'sized' | 'chunked';

/** POSTs `body` with a Content-Length (sized) or in two chunks without one (chunked). */
function post(
  body: Buffer,
  framing: Framing,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(framing === 'sized' ? { 'content-length': String(body.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    if (framing === 'chunked') {
      const half = Math.floor(body.length / 2);
      req.write(body.subarray(0, half));
      req.end(body.subarray(half));
    } else req.end(body);
  });
}

const both: Framing[] = ['sized', 'chunked'];

describe.each(both)('a %s body', (framing) => {
  it('is parsed as JSON whatever its content type, scalars included', async () => {
    const sent = { commands: [{ target: { type: 'agent', id: 'ü-1' } }] };
    expect(await post(Buffer.from(JSON.stringify(sent)), framing)).toEqual({
      status: 200,
      json: { body: sent },
    });
    expect(await post(Buffer.from('42'), framing, { 'content-type': 'text/plain' })).toEqual({
      status: 200,
      json: { body: 42 },
    });
  });

  it('may start with a byte order mark, and may name UTF-8 as its charset', async () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]);
    expect(await post(withBom, framing, { 'content-type': 'application/json; charset=UTF-8' })).toEqual({
      status: 200,
      json: { body: { a: 1 } },
    });
  });

  it('is refused when it is not valid UTF-8 or not valid JSON', async () => {
    const invalidUtf8 = await post(
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
      framing,
    );
    expect(invalidUtf8.status).toBe(400);
    expect(invalidUtf8.json).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'the body is not valid UTF-8',
        details: [{ pointer: '', message: 'must be UTF-8 encoded JSON' }],
      },
    });
    const malformed = await post(Buffer.from('{"commands": ['), framing);
    expect(malformed.status).toBe(400);
    expect(malformed.json).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'the body is not valid JSON',
        details: [{ pointer: '', message: 'must be valid JSON' }],
      },
    });
  });

  it('is refused with 413 beyond the limit', async () => {
    const big = await post(Buffer.from(JSON.stringify({ a: 'x'.repeat(LIMIT) })), framing);
    expect(big.status).toBe(413);
    expect((big.json.error as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
  });
});

it('an empty body with a length of 0 is an empty object', async () => {
  expect(await post(Buffer.alloc(0), 'sized')).toEqual({ status: 200, json: { body: {} } });
});

it('a compressed body is inflated', async () => {
  const sent = { a: [1, 2, 3] };
  expect(
    await post(gzipSync(Buffer.from(JSON.stringify(sent))), 'sized', { 'content-encoding': 'gzip' }),
  ).toEqual({ status: 200, json: { body: sent } });
});
