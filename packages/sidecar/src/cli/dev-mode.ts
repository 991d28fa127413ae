/**
 * The quick start's development mode (`serve` with no OpenSearch configured): where the local node lives and
 * the admin token the CLI picks up. Paths are below the repository root (same depth from `src/` and `dist/`).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateApiToken, hashApiToken } from '@command-manager/express';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** A folder named by an environment variable (relative to the working directory), else `fallback`. */
function folderOf(variable: string, fallback: string): string {
  const value = process.env[variable];
  return value !== undefined && value !== '' ? path.resolve(value) : fallback;
}

/** The quick start's own files (admin token, users file): `CM_DEV_DIR`, default `.cache/command-manager`. */
const DEV_DIR = folderOf('CM_DEV_DIR', path.join(ROOT, '.cache', 'command-manager'));

/** The admin token of the quick start (mode 0600); the CLI reads it when given no credentials. */
export const DEV_TOKEN_FILE = path.join(DEV_DIR, 'admin-token');

/**
 * Home of the local OpenSearch the quick start starts (scripts/opensearch's pid, port, data and logs):
 * `OPENSEARCH_HOME_DIR` (the script's own variable), default `.cache/opensearch/local`.
 */
export const LOCAL_NODE_HOME = folderOf(
  'OPENSEARCH_HOME_DIR',
  path.join(ROOT, '.cache', 'opensearch', 'local'),
);

/**
 * The quick start runs without a users file: a fresh admin token is written to a private file (mode 0600,
 * never printed or logged) and the CLI picks it up from there.
 */
export function devUsersFile(): string {
  mkdirSync(DEV_DIR, { recursive: true, mode: 0o700 });
  const token = generateApiToken();
  writeFileSync(DEV_TOKEN_FILE, `${token}\n`, { mode: 0o600 });
  chmodSync(DEV_TOKEN_FILE, 0o600);
  const usersFile = path.join(DEV_DIR, 'users.json');
  const users = { tokens: [{ name: 'admin', token_sha256: hashApiToken(token), roles: ['admin'] }] };
  writeFileSync(usersFile, JSON.stringify(users, null, 2), { mode: 0o600 });
  return usersFile;
}
