import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CommandManagerError, ErrorCodes } from '@command-manager/core';
import { maxHeaderSizeFor } from '@command-manager/express';
import { thrownBy } from '@command-manager/test-support';
import { getPath, loadConfig, redactedConfig, settingsTable } from '../src/config/load-config';
import { SETTINGS } from '../src/config/settings';

const configError = (fn: () => unknown): CommandManagerError =>
  thrownBy(fn, CommandManagerError, 'expected a configuration error');

describe('configuration', () => {
  it('applies every default and freezes the result', () => {
    const config = loadConfig({ env: {} });
    for (const s of SETTINGS) {
      if (s.default !== undefined) expect(getPath(config, s.key)).toEqual(s.default);
    }
    expect(config.indices.orders).toBe('wazuh-commands');
    expect(typeof config.nodeId).toBe('string');
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('reads a file and lets the environment override it, converting types', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cm-config-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ http: { port: 9000 }, indices: { orders: 'from-file' } }));
    const config = loadConfig({
      file,
      env: { CM_HTTP_PORT: '9100', CM_ACTIONS_PERMISSIVE: 'true', CM_UPDATE_SERVER_IDS: 'a, b' },
    });
    expect(config.http.port).toBe(9100);
    expect(config.indices.orders).toBe('from-file');
    expect(config.actions.permissive).toBe(true);
    expect(config.actions.updateServerIds).toEqual(['a', 'b']);
  });

  it('names every bad key at once, with the variable it came from', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cm-config-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ http: { prot: 1 }, bogus: true, log: { level: 'loud' } }));
    const err = configError(() => loadConfig({ file, env: { CM_HTTP_PORT: 'eighty' } }));
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    const pointers = err.details.map((d) => d.pointer).sort();
    expect(pointers).toEqual(['bogus', 'http.port', 'http.prot', 'log.level']);
    expect(err.details.find((d) => d.pointer === 'http.port')?.message).toContain('CM_HTTP_PORT');
  });

  it('requires credentials that go together', () => {
    const err = configError(() => loadConfig({ env: { CM_MANAGEMENT_API_AUTH: 'wazuh-jwt' } }));
    expect(err.details.map((d) => d.pointer).sort()).toEqual([
      'scheduler.auth.password',
      'scheduler.auth.username',
    ]);
  });

  it('a client CA without a listener certificate is an error naming the keys', () => {
    const err = configError(() => loadConfig({ env: { CM_TLS_CLIENT_CA_FILE: '/etc/ca.pem' } }));
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.details.map((d) => d.pointer)).toEqual(['http.tls.certFile']);
    expect(err.details[0]?.message).toContain('http.tls.clientCaFile');
  });

  it('refuses settings that contradict each other, naming both keys and where they came from', () => {
    // Args larger than one delivery would be accepted and never delivered.
    const err = configError(() =>
      loadConfig({ env: { CM_MAX_ARGS_BYTES: '2097153', CM_DISPATCH_MAX_BYTES: '2097152' } }),
    );
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.details).toEqual([
      {
        pointer: 'limits.maxArgsBytes',
        message: expect.stringContaining('`scheduler.deliveryMaxBytes` (2097152)') as unknown,
      },
    ]);
    expect(err.details[0]?.message).toContain('CM_MAX_ARGS_BYTES, CM_DISPATCH_MAX_BYTES');
    expect(err.message).toContain('undeliverable');
    // Equal is allowed: args of exactly one delivery go out alone.
    expect(
      loadConfig({ env: { CM_MAX_ARGS_BYTES: '4096', CM_DISPATCH_MAX_BYTES: '4096' } }).limits.maxArgsBytes,
    ).toBe(4096);
    // Against the other's default, and from a file.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cm-config-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ scheduler: { retryBaseMs: 60_001 } }));
    const retry = configError(() => loadConfig({ file, env: {} }));
    expect(retry.details.map((d) => d.pointer)).toEqual(['scheduler.retryBaseMs']);
    expect(retry.details[0]?.message).toMatch(/^60001 must be at most `scheduler\.retryMaxMs` \(60000\)/);
    // Result data must leave room for the rest of its order in one answer: half of it at most.
    const data = configError(() =>
      loadConfig({ env: { OPENSEARCH_MAX_RESPONSE_BYTES: '65536', CM_MAX_RESULT_DATA_BYTES: '32769' } }),
    );
    expect(data.details.map((d) => d.pointer)).toEqual(['limits.maxResultDataBytes']);
    expect(data.details[0]?.message).toContain('at most `opensearch.maxResponseBytes` / 2 (32768)');
    expect(
      loadConfig({ env: { OPENSEARCH_MAX_RESPONSE_BYTES: '65536', CM_MAX_RESULT_DATA_BYTES: '32768' } })
        .limits.maxResultDataBytes,
    ).toBe(32_768);
    // The smallest response bound with the default result bound: refused, not left to fail at the first
    // large result.
    expect(
      configError(() => loadConfig({ env: { OPENSEARCH_MAX_RESPONSE_BYTES: '65536' } })).details.map(
        (d) => d.pointer,
      ),
    ).toEqual(['limits.maxResultDataBytes']);
    // A reservation must be taken over before the retention run may delete its key: strictly less.
    const ttl = configError(() =>
      loadConfig({
        env: { CM_IDEMPOTENCY_RESERVATION_TTL_MS: '60000', CM_IDEMPOTENCY_RETENTION_MS: '60000' },
      }),
    );
    expect(ttl.details.map((d) => d.pointer)).toEqual(['limits.idempotencyReservationTtlMs']);
    expect(ttl.details[0]?.message).toContain('less than `limits.idempotencyRetentionMs`');
    expect(
      loadConfig({
        env: { CM_IDEMPOTENCY_RESERVATION_TTL_MS: '59999', CM_IDEMPOTENCY_RETENTION_MS: '60000' },
      }).limits.idempotencyReservationTtlMs,
    ).toBe(59_999);
  });

  it('bounds one setting only by another integer setting, and the defaults meet every such bound', () => {
    const byKey = new Map(SETTINGS.map((s) => [s.key, s]));
    const bounded = SETTINGS.filter((s) => s.atMost);
    expect(bounded.length).toBeGreaterThanOrEqual(3);
    for (const s of bounded) {
      expect({ key: s.key, type: s.type }).toEqual({ key: s.key, type: 'integer' });
      expect({ key: s.key, bound: byKey.get(s.atMost?.key ?? '')?.type }).toEqual({
        key: s.key,
        bound: 'integer',
      });
    }
    expect(() => loadConfig({ env: {} })).not.toThrow();
  });

  it('settings that size what the sidecar holds in memory have a ceiling', () => {
    const env = {
      CM_SEARCH_LAG_MAX_ORDERS: '1000001',
      CM_AUTH_MAX_TRACKED_LOGIN_CLIENTS: '1000001',
      CM_AUTH_MAX_QUEUED_VERIFICATIONS: '10001',
      CM_AUDIT_MAX_QUEUED_BYTES: String(32 * 1024 * 1024 + 1),
      CM_MAX_BATCH_COMMANDS: '10001',
    };
    const err = configError(() => loadConfig({ env }));
    expect(err.details.map((d) => d.pointer).sort()).toEqual([
      'audit.maxQueuedBytes',
      'auth.maxQueuedVerifications',
      'auth.maxTrackedLoginClients',
      'limits.maxBatchCommands',
      'scheduler.searchLagMaxOrders',
    ]);
    // The header limit at the ceiling of maxBatchCommands is the one the description states.
    expect(maxHeaderSizeFor(10_000)).toBe(603_079);
    expect(maxHeaderSizeFor(100)).toBe(22_279);
    const atCeiling = loadConfig({
      env: {
        CM_SEARCH_LAG_MAX_ORDERS: '1000000',
        CM_AUTH_MAX_TRACKED_LOGIN_CLIENTS: '1000000',
        CM_AUTH_MAX_QUEUED_VERIFICATIONS: '10000',
        CM_AUDIT_MAX_QUEUED_BYTES: String(32 * 1024 * 1024),
        CM_MAX_BATCH_COMMANDS: '10000',
      },
    });
    expect(atCeiling.scheduler.searchLagMaxOrders).toBe(1_000_000);
    expect(atCeiling.audit.maxQueuedBytes).toBe(32 * 1024 * 1024);
  });

  it('trusted proxies must be addresses or CIDRs', () => {
    expect(
      loadConfig({ env: { CM_HTTP_TRUSTED_PROXIES: '10.0.0.0/8, ::1, loopback' } }).http.trustedProxies,
    ).toEqual(['10.0.0.0/8', '::1', 'loopback']);
    const err = configError(() =>
      loadConfig({ env: { CM_HTTP_TRUSTED_PROXIES: '10.0.0.0/33,proxy.example,1.2.3.4' } }),
    );
    expect(err.details.map((d) => d.pointer)).toEqual(['http.trustedProxies.0', 'http.trustedProxies.1']);
  });

  it('never echoes a secret, in errors or in the redacted view', () => {
    const config = loadConfig({
      env: {
        OPENSEARCH_PASSWORD: 'hunter2',
        CM_MANAGEMENT_API_AUTH: 'bearer',
        CM_MANAGEMENT_API_TOKEN: 's3cr3t',
      },
    });
    const shown = JSON.stringify(redactedConfig(config));
    expect(shown).not.toContain('hunter2');
    expect(shown).not.toContain('s3cr3t');
    const err = configError(() => loadConfig({ env: { OPENSEARCH_PASSWORD: 'hunter2', CM_LOG_LEVEL: 'x' } }));
    expect(err.message).not.toContain('hunter2');
  });

  it('documents every setting in the generated table', () => {
    const table = settingsTable();
    for (const s of SETTINGS) expect(table).toContain(`\`${s.env}\``);
  });
});

describe('README configuration table', () => {
  // Prettier aligns the table; compare cell by cell.
  const cells = (table: string): string[][] =>
    table
      .split('\n')
      .filter((line) => line.startsWith('|') && !/^\|[\s|-]+\|$/.test(line))
      .map((line) =>
        line
          .slice(1, -1)
          .split(/(?<!\\)\|/)
          .map((c) => c.trim()),
      );

  it('is the table generated from the settings', () => {
    const readme = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
    const start = readme.indexOf('<!-- settings:start');
    const end = readme.indexOf('<!-- settings:end -->');
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    expect(cells(readme.slice(start, end))).toEqual(cells(settingsTable()));
  });
});
