import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { newOrder, orderDocumentId } from '@command-manager/core';
import type { Clock, CommandRequest, Logger, Order, RequestRecord } from '@command-manager/core';

/** A clock the test moves by hand. */
export class FakeClock implements Clock {
  constructor(public ms = Date.parse('2025-01-01T00:00:00.000Z')) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function command(overrides: Partial<CommandRequest> = {}): CommandRequest {
  return {
    source: 'Users/Services',
    user: 'alice',
    target: { type: 'agent', id: '001' },
    action: { name: 'restart', args: {} },
    timeout: 300,
    ...overrides,
  };
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

/** A logger that keeps what it was told, to assert typed errors are logged. */
export class RecordingLogger implements Logger {
  readonly entries: Array<{ level: string; message: string; meta?: Record<string, unknown> }> = [];
  debug(message: string, meta?: Record<string, unknown>): void {
    this.entries.push({ level: 'debug', message, ...(meta ? { meta } : {}) });
  }
  info(message: string, meta?: Record<string, unknown>): void {
    this.entries.push({ level: 'info', message, ...(meta ? { meta } : {}) });
  }
  warn(message: string, meta?: Record<string, unknown>): void {
    this.entries.push({ level: 'warn', message, ...(meta ? { meta } : {}) });
  }
  error(message: string, meta?: Record<string, unknown>): void {
    this.entries.push({ level: 'error', message, ...(meta ? { meta } : {}) });
  }
  child(): Logger {
    return this;
  }
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

/** A throwaway PKI made with openssl: a CA, a server cert for 127.0.0.1/localhost, an unrelated CA, a self-signed cert. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'scheduler-pki-'));
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  try {
    const ca = (name: string): void =>
      ssl(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
      );
    ca('ca');
    ca('other-ca');
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=localhost',
    );
    writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    ssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    );
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'self.key',
      '-out',
      'self.crt',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    );
    const read = (f: string): string => readFileSync(path.join(dir, f), 'utf8');
    return {
      caCert: read('ca.crt'),
      serverKey: read('server.key'),
      serverCert: read('server.crt'),
      otherCaCert: read('other-ca.crt'),
      selfSignedKey: read('self.key'),
      selfSignedCert: read('self.crt'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
