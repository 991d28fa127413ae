import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { newOrder, orderDocumentId } from '@command-manager/core';
import type { CommandRequest, Order, RequestRecord } from '@command-manager/core';
import { pkiBuilder, restartCommand } from '@command-manager/test-support';

export function command(overrides: Partial<CommandRequest> = {}): CommandRequest {
  return { ...restartCommand(300), ...overrides };
}

/** `count` pending orders of one request, submitted at `now`. */
export function orders(
  requestId: number,
  count: number,
  now: Date,
  cmd: CommandRequest = command(),
): Order[] {
  return Array.from({ length: count }, (_, i) =>
    newOrder({
      command: cmd,
      requestId,
      orderId: i + 1,
      target: { type: 'agent', id: String(i + 1).padStart(3, '0') },
      groups: [],
      principal: 'tester',
      now,
    }),
  );
}

export function ids(requestId: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => orderDocumentId(requestId, i + 1));
}

export function requestRecord(
  requestId: number,
  cmd: CommandRequest,
  total: number,
  now: Date,
): RequestRecord {
  return {
    request_id: requestId,
    created_at: now.toISOString(),
    principal: 'tester',
    command: cmd,
    total_orders: total,
    unresolved: [],
    write_state: 'complete',
  };
}

export interface TestPki {
  caCert: string;
  serverKey: string;
  serverCert: string;
  /** A CA that did not sign the server certificate. */
  otherCaCert: string;
  /** A self-signed server certificate (no CA). */
  selfSignedKey: string;
  selfSignedCert: string;
}

/** A throwaway PKI: a CA, a server cert for 127.0.0.1/localhost, an unrelated CA, a self-signed cert. */
export function makeTestPki(): TestPki {
  const pki = pkiBuilder(mkdtempSync(path.join(tmpdir(), 'scheduler-pki-')));
  try {
    pki.ca('ca');
    pki.ca('other-ca');
    pki.leaf('server', 'localhost', 'ca', 'IP:127.0.0.1,DNS:localhost');
    pki.selfSigned('self', '127.0.0.1', 'IP:127.0.0.1');
    const read = (f: string): string => pki.read(f).toString('utf8');
    return {
      caCert: read('ca.crt'),
      serverKey: read('server.key'),
      serverCert: read('server.crt'),
      otherCaCert: read('other-ca.crt'),
      selfSignedKey: read('self.key'),
      selfSignedCert: read('self.crt'),
    };
  } finally {
    rmSync(pki.dir, { recursive: true, force: true });
  }
}
