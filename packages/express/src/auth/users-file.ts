import { readFile } from 'node:fs/promises';
import {
  CommandManagerError,
  ErrorCodes,
  SOURCES,
  type ErrorDetail,
  type Source,
} from '@command-manager/core';
import { parsePasswordHash, type ParsedPasswordHash } from './password-hash';
import { BUILT_IN_ROLES, OPERATIONS, type Operation, type RoleDefinition } from './roles';

/**
 * The users file (JSON):
 *
 * ```json
 * {
 *   "roles":        { "<name>": { "operations": ["submit"], "sources": ["Engine"], "actions": "*", "delegate": false } },
 *   "users":        [ { "name": "wazuh-server", "password_hash": "scrypt$16384$8$1$…$…", "roles": ["management-api"] } ],
 *   "tokens":       [ { "name": "engine", "token_sha256": "<64 hex>", "roles": ["engine"] } ],
 *   "certificates": [ { "subject_cn": "comms-api", "name": "comms", "roles": ["comms"] } ]
 * }
 * ```
 *
 * `roles` adds to (or redefines by name) the built-in roles. `name` is the principal stored on every order.
 * Every key is optional except where an entry needs it; every bad key is named by JSON pointer.
 */
export interface UsersFile {
  roles?: Record<string, RoleDefinition>;
  users?: Array<{ name: string; password_hash: string; roles: string[] }>;
  tokens?: Array<{ name: string; token_sha256: string; roles: string[] }>;
  certificates?: Array<{ subject_cn: string; name?: string; roles: string[] }>;
}

/** The users file, validated, with hashes parsed and roles resolved against the built-in ones. */
export interface AuthConfig {
  roles: Readonly<Record<string, RoleDefinition>>;
  users: ReadonlyArray<{ name: string; hash: ParsedPasswordHash; roles: readonly string[] }>;
  tokens: ReadonlyArray<{ name: string; sha256: Buffer; roles: readonly string[] }>;
  certificates: ReadonlyArray<{ subjectCn: string; name: string; roles: readonly string[] }>;
}

// Control characters are what this pattern exists to refuse (they break logs and headers).
// eslint-disable-next-line no-control-regex
const NAME = /^[^\u0000-\u001F\u007F-\u009F:]{1,256}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function esc(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Validates a users file; throws CONFIG_INVALID naming every bad key. */
export function parseUsersFile(json: unknown): AuthConfig {
  const errors: ErrorDetail[] = [];
  const bad = (pointer: string, message: string): void => {
    errors.push({ pointer, message });
  };
  if (!isRecord(json)) {
    throw new CommandManagerError(ErrorCodes.CONFIG_INVALID, 'users file must be a JSON object', {
      details: [{ pointer: '', message: 'must be an object' }],
    });
  }
  for (const key of Object.keys(json)) {
    if (!['roles', 'users', 'tokens', 'certificates'].includes(key)) bad(`/${esc(key)}`, 'unknown key');
  }

  const roles: Record<string, RoleDefinition> = { ...BUILT_IN_ROLES };
  if (json.roles !== undefined) {
    if (!isRecord(json.roles)) bad('/roles', 'must be an object of role definitions');
    else {
      for (const [name, def] of Object.entries(json.roles)) {
        const role = parseRole(def, `/roles/${esc(name)}`, bad);
        if (role) roles[name] = Object.freeze(role);
      }
    }
  }

  const checkRoles = (v: unknown, pointer: string): string[] => {
    if (!Array.isArray(v) || v.length === 0) {
      bad(pointer, 'must be a non-empty array of role names');
      return [];
    }
    v.forEach((r, i) => {
      if (typeof r !== 'string' || !Object.prototype.hasOwnProperty.call(roles, r)) {
        bad(`${pointer}/${i}`, `unknown role ${JSON.stringify(r)}`);
      }
    });
    return v.filter((r): r is string => typeof r === 'string');
  };
  const checkName = (v: unknown, pointer: string, seen: Set<string>): string => {
    if (typeof v !== 'string' || !NAME.test(v))
      bad(pointer, 'must be 1..256 characters, no control characters or ":"');
    else if (seen.has(v)) bad(pointer, `duplicate ${JSON.stringify(v)}`);
    else seen.add(v);
    return typeof v === 'string' ? v : '';
  };
  const entries = (key: string): Array<Record<string, unknown>> => {
    const v = json[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      bad(`/${key}`, 'must be an array');
      return [];
    }
    return v.map((e, i) => {
      if (!isRecord(e)) {
        bad(`/${key}/${i}`, 'must be an object');
        return {};
      }
      return e;
    });
  };
  const unknownKeys = (e: Record<string, unknown>, allowed: string[], pointer: string): void => {
    for (const k of Object.keys(e)) if (!allowed.includes(k)) bad(`${pointer}/${esc(k)}`, 'unknown key');
  };

  const users: AuthConfig['users'][number][] = [];
  const userNames = new Set<string>();
  entries('users').forEach((e, i) => {
    const p = `/users/${i}`;
    unknownKeys(e, ['name', 'password_hash', 'roles'], p);
    const name = checkName(e.name, `${p}/name`, userNames);
    const hash =
      typeof e.password_hash === 'string' ? parsePasswordHash(e.password_hash) : 'must be a string';
    if (typeof hash === 'string') bad(`${p}/password_hash`, hash);
    const userRoles = checkRoles(e.roles, `${p}/roles`);
    if (typeof hash !== 'string') users.push({ name, hash, roles: userRoles });
  });

  const tokens: AuthConfig['tokens'][number][] = [];
  const tokenHashes = new Set<string>();
  const tokenNames = new Set<string>();
  entries('tokens').forEach((e, i) => {
    const p = `/tokens/${i}`;
    unknownKeys(e, ['name', 'token_sha256', 'roles'], p);
    const name = checkName(e.name, `${p}/name`, tokenNames);
    const sha = e.token_sha256;
    if (typeof sha !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha))
      bad(`${p}/token_sha256`, 'must be 64 hex digits');
    else if (tokenHashes.has(sha.toLowerCase())) bad(`${p}/token_sha256`, 'duplicate token');
    else tokenHashes.add(sha.toLowerCase());
    const tokenRoles = checkRoles(e.roles, `${p}/roles`);
    if (typeof sha === 'string') tokens.push({ name, sha256: Buffer.from(sha, 'hex'), roles: tokenRoles });
  });

  const certificates: AuthConfig['certificates'][number][] = [];
  const cns = new Set<string>();
  entries('certificates').forEach((e, i) => {
    const p = `/certificates/${i}`;
    unknownKeys(e, ['subject_cn', 'name', 'roles'], p);
    const cn = checkName(e.subject_cn, `${p}/subject_cn`, cns);
    if (e.name !== undefined && (typeof e.name !== 'string' || !NAME.test(e.name))) {
      bad(`${p}/name`, 'must be 1..256 characters, no control characters or ":"');
    }
    const certRoles = checkRoles(e.roles, `${p}/roles`);
    certificates.push({ subjectCn: cn, name: typeof e.name === 'string' ? e.name : cn, roles: certRoles });
  });

  if (errors.length > 0) {
    throw new CommandManagerError(
      ErrorCodes.CONFIG_INVALID,
      `users file is invalid (${errors.length} problems)`,
      {
        details: errors,
      },
    );
  }
  return Object.freeze({ roles: Object.freeze(roles), users, tokens, certificates });
}

function parseRole(
  def: unknown,
  p: string,
  bad: (pointer: string, message: string) => void,
): RoleDefinition | undefined {
  if (!isRecord(def)) {
    bad(p, 'must be an object');
    return undefined;
  }
  const before = { ok: true };
  const fail = (pointer: string, message: string): void => {
    before.ok = false;
    bad(pointer, message);
  };
  for (const k of Object.keys(def)) {
    if (!['operations', 'sources', 'actions', 'delegate'].includes(k)) fail(`${p}/${esc(k)}`, 'unknown key');
  }
  const operations = def.operations;
  if (!Array.isArray(operations)) fail(`${p}/operations`, `must be an array of ${OPERATIONS.join(', ')}`);
  else {
    operations.forEach((o, i) => {
      if (!OPERATIONS.includes(o as Operation))
        fail(`${p}/operations/${i}`, `must be one of ${OPERATIONS.join(', ')}`);
    });
  }
  const sources = def.sources ?? [];
  if (sources !== '*') {
    if (!Array.isArray(sources)) fail(`${p}/sources`, 'must be "*" or an array of sources');
    else {
      sources.forEach((s, i) => {
        if (!SOURCES.includes(s as Source)) fail(`${p}/sources/${i}`, `must be one of ${SOURCES.join(', ')}`);
      });
    }
  }
  const actions = def.actions ?? [];
  if (actions !== '*') {
    if (!Array.isArray(actions)) fail(`${p}/actions`, 'must be "*" or an array of action names');
    else {
      actions.forEach((a, i) => {
        if (typeof a !== 'string' || a.length === 0) fail(`${p}/actions/${i}`, 'must be a non-empty string');
      });
    }
  }
  const delegate = def.delegate ?? false;
  if (typeof delegate !== 'boolean') fail(`${p}/delegate`, 'must be a boolean');
  if (!before.ok) return undefined;
  return {
    operations: [...(operations as Operation[])],
    sources: sources === '*' ? '*' : [...(sources as Source[])],
    actions: actions === '*' ? '*' : [...(actions as string[])],
    delegate: delegate as boolean,
  };
}

/** Reads and validates a users file from disk. */
export async function loadUsersFile(path: string): Promise<AuthConfig> {
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CommandManagerError(ErrorCodes.CONFIG_INVALID, `users file ${path} is not valid JSON`, {
      details: [{ pointer: '', message: e instanceof Error ? e.message : 'invalid JSON' }],
    });
  }
  return parseUsersFile(json);
}
