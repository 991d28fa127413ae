import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Server } from 'node:https';
import { listen } from '@command-manager/express';
import { pkiBuilder, type PkiBuilder } from '@command-manager/test-support';
import { buildApp, inMemoryWorld } from './support/fixtures';

/** A throw-away PKI: a CA, a server cert for 127.0.0.1, client certs (one from another CA). */
function makePki(dir: string): PkiBuilder {
  const pki = pkiBuilder(dir, { days: 1 });
  pki.ca('ca');
  pki.ca('other-ca');
  pki.leaf('server', '127.0.0.1', 'ca', 'IP:127.0.0.1');
  pki.leaf('comms', 'comms-api.example', 'ca');
  pki.leaf('stranger', 'stranger.example', 'ca');
  pki.leaf('forged', 'comms-api.example', 'other-ca');
  return pki;
}

describe('TLS listener with mutual TLS', () => {
  let dir: string;
  let pki: ReturnType<typeof makePki>;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cm-tls-'));
    pki = makePki(dir);
    const { app } = await buildApp(inMemoryWorld().service);
    server = (await listen(app, {
      port: 0,
      tls: { key: pki.read('server.key'), cert: pki.read('server.crt'), ca: pki.read('ca.crt') },
    })) as Server;
    port = (server.address() as AddressInfo).port;
  }, 60_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (pathName: string, client?: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: pathName,
          method: 'POST',
          ca: pki.read('ca.crt'),
          headers: { 'content-type': 'application/json' },
          agent: false,
          ...(client ? { key: pki.read(`${client}.key`), cert: pki.read(`${client}.crt`) } : {}),
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(
        JSON.stringify({ results: [{ id: '1-1', status: 'success', result: { code: 0, message: 'ok' } }] }),
      );
    });

  it('a client certificate from the CA whose CN is mapped authenticates as its principal (comms)', async () => {
    const res = await get('/_plugins/_command_manager/results', 'comms');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).results[0]).toMatchObject({ id: '1-1', outcome: 'unknown' });
  });

  it('a verified certificate whose CN is not mapped is 401', async () => {
    const res = await get('/_plugins/_command_manager/results', 'stranger');
    expect(res.status).toBe(401);
  });

  it('no certificate, or one from another CA (same CN), is refused at the handshake', async () => {
    await expect(get('/_plugins/_command_manager/results')).rejects.toThrow();
    await expect(get('/_plugins/_command_manager/results', 'forged')).rejects.toThrow();
  });
});
