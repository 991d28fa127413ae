import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import Ajv from 'ajv';
import { CommandManagerError, ErrorCodes } from '@command-manager/core';
import { redactUrl } from '../logging';
import { SETTINGS, type Setting } from './settings';

import type { SidecarConfig } from './sidecar-config';

type Config = SidecarConfig;

type Json = Record<string, unknown>;

function settingSchema(s: Setting): Json {
  switch (s.type) {
    case 'integer':
      return {
        type: 'integer',
        ...(s.minimum !== undefined && { minimum: s.minimum }),
        ...(s.maximum !== undefined && { maximum: s.maximum }),
      };
    case 'boolean':
      return { type: 'boolean' };
    case 'url':
      return { type: 'string', pattern: '^https?://[^\\s]+$' };
    case 'enum':
      return { enum: s.values };
    case 'list':
      return { type: 'array', items: { type: 'string', minLength: 1 } };
    default:
      return { type: 'string', minLength: 1 };
  }
}

/** The JSON Schema of the configuration file, built from SETTINGS (unknown keys are errors). */
export function configSchema(): Json {
  const root: Json = { type: 'object', properties: {}, additionalProperties: false };
  for (const s of SETTINGS) {
    const parts = s.key.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const props = node.properties as Json;
      props[part] ??= { type: 'object', properties: {}, additionalProperties: false };
      node = props[part] as Json;
    }
    (node.properties as Json)[parts[parts.length - 1] as string] = settingSchema(s);
  }
  return root;
}

function setPath(target: Json, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Json;
  }
  node[parts[parts.length - 1] as string] = value;
}

export function getPath(source: unknown, key: string): unknown {
  let node = source;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Json)[part];
  }
  return node;
}

/** Environment strings to typed values; what cannot be converted stays a string so the schema names it. */
function fromEnv(s: Setting, raw: string): unknown {
  switch (s.type) {
    case 'integer':
      return /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    case 'boolean':
      return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
    case 'list':
      return raw
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export interface LoadConfigOptions {
  /** JSON configuration file; environment variables override its values. */
  file?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Parses the configuration once: file, then environment, then defaults; validates it with the generated
 * JSON Schema, naming every bad key (never echoing a secret's value), and freezes it.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  let raw: Json = {};
  const file = options.file ?? env.CM_CONFIG_FILE;
  if (file) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8')) as Json;
    } catch (e) {
      throw new CommandManagerError(
        ErrorCodes.CONFIG_INVALID,
        `cannot read configuration file ${file}: ${(e as Error).message}`,
        {
          details: [{ pointer: '', message: `unreadable or not JSON: ${file}` }],
        },
      );
    }
  }
  const sourceOf = new Map<string, string>();
  for (const s of SETTINGS) {
    const value = env[s.env];
    if (value !== undefined && value !== '') {
      setPath(raw, s.key, fromEnv(s, value));
      sourceOf.set(s.key, s.env);
    }
  }

  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = ajv.compile(configSchema());
  if (!validate(raw)) {
    const details = (validate.errors ?? []).map((err) => {
      const key = [
        err.instancePath.slice(1).replace(/\//g, '.'),
        err.params && 'additionalProperty' in err.params ? String(err.params.additionalProperty) : '',
      ]
        .filter(Boolean)
        .join('.');
      const via = sourceOf.get(key);
      const message = err.keyword === 'additionalProperties' ? 'unknown setting' : (err.message ?? 'invalid');
      return { pointer: key, message: via ? `${message} (from ${via})` : message };
    });
    throw new CommandManagerError(
      ErrorCodes.CONFIG_INVALID,
      `invalid configuration: ${details.map((d) => `${d.pointer || '(root)'}: ${d.message}`).join('; ')}`,
      { details },
    );
  }

  for (const s of SETTINGS) {
    if (getPath(raw, s.key) === undefined && s.default !== undefined) setPath(raw, s.key, s.default);
  }
  if (getPath(raw, 'nodeId') === undefined) setPath(raw, 'nodeId', `${os.hostname()}-${process.pid}`);

  const problems: Array<{ pointer: string; message: string }> = [];
  const need = (key: string, when: string): void => {
    if (getPath(raw, key) === undefined) problems.push({ pointer: key, message: `required when ${when}` });
  };
  const authType = getPath(raw, 'scheduler.auth.type');
  if (authType === 'basic' || authType === 'wazuh-jwt') {
    need('scheduler.auth.username', `scheduler.auth.type is ${authType}`);
    need('scheduler.auth.password', `scheduler.auth.type is ${authType}`);
  }
  if (authType === 'bearer') need('scheduler.auth.token', 'scheduler.auth.type is bearer');
  if (getPath(raw, 'http.tls.certFile') !== undefined) need('http.tls.keyFile', 'http.tls.certFile is set');
  if (getPath(raw, 'http.tls.keyFile') !== undefined) need('http.tls.certFile', 'http.tls.keyFile is set');
  // Mutual TLS needs a TLS listener: without one the client CA would be ignored and callers would not be
  // asked for the certificates the operator meant to require.
  if (getPath(raw, 'http.tls.clientCaFile') !== undefined)
    need('http.tls.certFile', 'http.tls.clientCaFile is set (mutual TLS needs an HTTPS listener)');
  const proxies = getPath(raw, 'http.trustedProxies');
  if (Array.isArray(proxies)) {
    proxies.forEach((p, i) => {
      if (typeof p === 'string' && !isProxyAddress(p))
        problems.push({
          pointer: `http.trustedProxies.${i}`,
          message: 'must be an IP address, a CIDR, loopback, linklocal or uniquelocal',
        });
    });
  }
  if (getPath(raw, 'opensearch.certFile') !== undefined)
    need('opensearch.keyFile', 'opensearch.certFile is set');
  for (const s of SETTINGS) {
    if (!s.atMost) continue;
    const value = getPath(raw, s.key);
    const other = getPath(raw, s.atMost.key);
    if (typeof value !== 'number' || typeof other !== 'number') continue;
    const bound = Math.floor(other / (s.atMost.divisor ?? 1));
    if (s.atMost.below ? value < bound : value <= bound) continue;
    const via = [sourceOf.get(s.key), sourceOf.get(s.atMost.key)].filter(Boolean).join(', ');
    problems.push({
      pointer: s.key,
      message:
        `${value} must be ${atMostWords(s.atMost)} (${bound}): ${s.atMost.why}` +
        (via ? ` (from ${via})` : ''),
    });
  }
  if (problems.length > 0) {
    throw new CommandManagerError(
      ErrorCodes.CONFIG_INVALID,
      `invalid configuration: ${problems.map((d) => `${d.pointer}: ${d.message}`).join('; ')}`,
      { details: problems },
    );
  }
  return deepFreeze(raw) as unknown as Config;
}

/** `at most \`key\``, `less than \`key\``, `at most \`key\` / 2`. */
function atMostWords(atMost: NonNullable<Setting['atMost']>): string {
  const share = atMost.divisor !== undefined && atMost.divisor !== 1 ? ` / ${atMost.divisor}` : '';
  return `${atMost.below ? 'less than' : 'at most'} \`${atMost.key}\`${share}`;
}

/** What Express's `trust proxy` (proxy-addr) accepts: an IP, a CIDR, or one of its named ranges. */
function isProxyAddress(value: string): boolean {
  if (value === 'loopback' || value === 'linklocal' || value === 'uniquelocal') return true;
  const [address, prefix, extra] = value.split('/');
  if (extra !== undefined || address === undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** The configuration with secrets replaced and URL credentials removed, safe to log. */
export function redactedConfig(config: Config): Json {
  const copy = JSON.parse(JSON.stringify(config)) as Json;
  for (const s of SETTINGS) {
    const value = getPath(copy, s.key);
    if (value === undefined) continue;
    if (s.secret) setPath(copy, s.key, '[redacted]');
    else if (s.type === 'url' && typeof value === 'string') setPath(copy, s.key, redactUrl(value));
  }
  return copy;
}

/** The README's configuration table, generated from SETTINGS. */
export function settingsTable(): string {
  const rows = SETTINGS.map((s) => {
    const def =
      s.default === undefined
        ? ''
        : `\`${Array.isArray(s.default) ? s.default.join(',') : String(s.default)}\``;
    const type = s.type === 'enum' ? (s.values ?? []).map((v) => `\`${v}\``).join(' \\| ') : s.type;
    const bound = s.atMost
      ? ` Must be ${atMostWords(s.atMost)}: otherwise ${s.atMost.why} (the sidecar refuses to start).`
      : '';
    return `| \`${s.key}\` | \`${s.env}\` | ${type} | ${def} | ${s.description}${bound}${s.secret ? ' (secret: never logged)' : ''} |`;
  });
  return [
    '| key | environment | type | default | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
