import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository's `scripts/opensearch` (same depth below the root from `src/` and from `dist/`). */
export const OPENSEARCH_SCRIPT = path.resolve(__dirname, '..', '..', '..', 'scripts', 'opensearch');

export interface LocalOpenSearchOptions {
  /** Folder of this node's pid, port, data and logs (lets a test run and a dev node live side by side). */
  homeDir?: string;
  /** Fixed HTTP port; a free one is picked when unset. */
  port?: number;
  /** `--secure`: security plugin, TLS and users; credentials land in the home's `sidecar.env`/`admin.env`. */
  secure?: boolean;
  /** Where the script's progress goes (defaults to this process's stderr). */
  stdio?: 'inherit' | 'pipe';
}

function scriptEnv(options: LocalOpenSearchOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (options.homeDir) env.OPENSEARCH_HOME_DIR = options.homeDir;
  if (options.port) env.OPENSEARCH_PORT = String(options.port);
  if (options.secure) env.OPENSEARCH_SECURE = '1';
  return env;
}

/**
 * Starts (or reuses) a single-node OpenSearch from the integ-test distribution through
 * `scripts/opensearch start` and returns its URL. The script fetches the zip with Maven on first use.
 */
export async function startLocalOpenSearch(options: LocalOpenSearchOptions = {}): Promise<string> {
  const child = run('bash', [OPENSEARCH_SCRIPT, 'start'], {
    env: scriptEnv(options),
    maxBuffer: 16 * 1024 * 1024,
    timeout: 15 * 60_000,
  });
  if (options.stdio !== 'pipe') child.child.stderr?.pipe(process.stderr);
  const { stdout } = await child;
  // One URL a line (a cluster prints every node's); the first node's is the one to use.
  const url = stdout.trim().split('\n')[0] ?? '';
  if (!/^https?:\/\//.test(url)) throw new Error(`scripts/opensearch start printed no URL: ${stdout}`);
  return url;
}

/** Stops the node that `startLocalOpenSearch` started with the same options (by its pid file). */
export async function stopLocalOpenSearch(options: LocalOpenSearchOptions = {}): Promise<void> {
  await run('bash', [OPENSEARCH_SCRIPT, 'stop'], { env: scriptEnv(options), timeout: 120_000 });
}
