/**
 * Credentials and CA of the test run's OpenSearch, so that every test's client and every sidecar a test
 * starts authenticate and verify TLS when the node is secured (`scripts/opensearch --secure`). They come from
 * the environment: OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD (the least-privilege `cm-sidecar` user the
 * product runs as), OPENSEARCH_ADMIN_USERNAME/OPENSEARCH_ADMIN_PASSWORD (fixtures that act as an
 * administrator: the `setup` command, users and roles of a test) and OPENSEARCH_CA_FILE; jest's global
 * setup fills them from the node's `sidecar.env` and `admin.env`. An unsecured node needs none of them.
 */
import { readFileSync } from 'node:fs';
import { opensearchUrl } from './test-env';

export interface TestClientOptions {
  node: string;
  auth?: { username: string; password: string };
  caFile?: string;
}

function options(user: string | undefined, password: string | undefined): TestClientOptions {
  const out: TestClientOptions = { node: opensearchUrl() };
  if (user !== undefined && user !== '') out.auth = { username: user, password: password ?? '' };
  const ca = process.env.OPENSEARCH_CA_FILE;
  if (ca !== undefined && ca !== '') out.caFile = ca;
  return out;
}

/** Client options for the product under test: the sidecar's user. */
export function opensearchClientOptions(): TestClientOptions {
  return options(process.env.OPENSEARCH_USERNAME, process.env.OPENSEARCH_PASSWORD);
}

/** Client options of an administrator (falls back to the sidecar's user on a node without admin credentials). */
export function adminClientOptions(): TestClientOptions {
  if (process.env.OPENSEARCH_ADMIN_USERNAME) {
    return options(process.env.OPENSEARCH_ADMIN_USERNAME, process.env.OPENSEARCH_ADMIN_PASSWORD);
  }
  return opensearchClientOptions();
}

/** True when the test run's node has the security plugin (admin credentials known). */
export function opensearchSecured(): boolean {
  return Boolean(process.env.OPENSEARCH_ADMIN_USERNAME);
}

/**
 * The OPENSEARCH_* environment of a sidecar a test starts against `url`: the URL, and the sidecar user's
 * credentials and CA when `url` is the test run's node.
 */
export function opensearchEnv(url: string = opensearchUrl()): Record<string, string> {
  const env: Record<string, string> = { OPENSEARCH_URL: url };
  if (url !== process.env.OPENSEARCH_URL) return env;
  for (const k of ['OPENSEARCH_USERNAME', 'OPENSEARCH_PASSWORD', 'OPENSEARCH_CA_FILE']) {
    const v = process.env[k];
    if (v !== undefined && v !== '') env[k] = v;
  }
  return env;
}

/** `KEY=value` lines of a node's `sidecar.env` / `admin.env`. */
export function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Puts a secured node's credentials in this process's environment, from its home (the folder holding
 * `sidecar.env` and `admin.env`).
 */
export function useSecuredNodeHome(home: string): void {
  const sidecar = readEnvFile(`${home}/sidecar.env`);
  const admin = readEnvFile(`${home}/admin.env`);
  if (sidecar.OPENSEARCH_URL) process.env.OPENSEARCH_URL = sidecar.OPENSEARCH_URL;
  process.env.OPENSEARCH_USERNAME = sidecar.OPENSEARCH_USERNAME;
  process.env.OPENSEARCH_PASSWORD = sidecar.OPENSEARCH_PASSWORD;
  process.env.OPENSEARCH_CA_FILE = sidecar.OPENSEARCH_CA_FILE;
  process.env.OPENSEARCH_ADMIN_USERNAME = admin.OPENSEARCH_USERNAME;
  process.env.OPENSEARCH_ADMIN_PASSWORD = admin.OPENSEARCH_PASSWORD;
}
