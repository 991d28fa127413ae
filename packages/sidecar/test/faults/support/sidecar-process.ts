/**
 * Sidecars as real processes: `node -r ts-node/register/transpile-only packages/sidecar/src/main.ts serve`,
 * configured only through the environment variables of `packages/sidecar/src/config/settings.ts`, exactly
 * as an operator runs it (the suite needs no build: test-support's `register-source` resolves the
 * workspace packages to their sources). Every process started here is remembered, so that `killAllSidecars()` in an `afterAll`
 * leaves none behind whatever failed.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REGISTER_SOURCE } from '@command-manager/test-support';

export const REPO_ROOT = path.resolve(__dirname, '../../../../..');
const MAIN = path.join(REPO_ROOT, 'packages/sidecar/src/main.ts');
/** ts-node parses and transpiles every source at start: generous on a loaded 2-core machine. */
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
const MAX_LOG_LINES = 50_000;

export interface LogLine {
  level?: string;
  message?: string;
  timestamp?: string;
  [key: string]: unknown;
}

export interface SidecarProcess {
  name: string;
  nodeId: string;
  /** Base URL of its API. */
  url: string;
  pid: number;
  /** Its JSON log lines (stderr), parsed; non-JSON lines are kept as `{ message }`. */
  logs: LogLine[];
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** `kill -9`: no shutdown hook runs, leases stay as they were. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful stop), SIGKILL if it does not end within the bound. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Environment variables of the outer shell that would change the sidecar's configuration. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('CM_') || k.startsWith('OPENSEARCH_') || k.startsWith('JEST_')) continue;
    env[k] = v;
  }
  return env;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Spawns `serve` and resolves once it listens (it prints `command manager listening on <url>`). Rejects,
 * after killing it, if it exits or does not listen in time.
 */
export async function startSidecar(options: {
  name: string;
  env: Record<string, string>;
}): Promise<SidecarProcess> {
  const nodeId = options.env.CM_NODE_ID ?? options.name;
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', REGISTER_SOURCE, MAIN, 'serve'],
    {
      cwd: REPO_ROOT,
      env: {
        ...baseEnv(),
        TS_NODE_PROJECT: path.join(REPO_ROOT, 'tsconfig.test.json'),
        CM_HTTP_HOST: '127.0.0.1',
        CM_HTTP_PORT: '0',
        CM_NODE_ID: nodeId,
        ...options.env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  live.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const logs: LogLine[] = [];
  let partial = '';
  let listening: ((url: string) => void) | undefined;
  const urlPromise = new Promise<string>((resolve) => (listening = resolve));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      const m = /^command manager listening on (\S+)/.exec(line);
      if (m?.[1]) listening?.(m[1]);
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        parsed = { message: line };
      }
      if (logs.length < MAX_LOG_LINES) logs.push(parsed);
    }
  });

  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await Promise.race([
      urlPromise,
      exited.then(({ code, signal }) => {
        throw new Error(
          `sidecar ${options.name} exited before listening (code ${code}, signal ${signal}):\n${tail(logs)}`,
        );
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `sidecar ${options.name} did not listen within ${READY_TIMEOUT_MS} ms:\n${tail(logs)}`,
              ),
            ),
          READY_TIMEOUT_MS,
        );
      }),
    ]);
    const kill9 = async (): Promise<void> => {
      if (alive(child)) child.kill('SIGKILL');
      await exited;
    };
    const stop = async (): Promise<void> => {
      if (!alive(child)) return;
      child.kill('SIGTERM');
      let t: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        exited.then(() => true),
        new Promise<false>((r) => (t = setTimeout(() => r(false), STOP_TIMEOUT_MS))),
      ]);
      clearTimeout(t);
      if (!done) await kill9();
    };
    return { name: options.name, nodeId, url, pid: child.pid ?? -1, logs, exited, kill9, stop };
  } catch (e) {
    if (alive(child)) child.kill('SIGKILL');
    await exited;
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Kills (-9) every sidecar this worker started and still runs; for `afterAll`, whatever happened. */
export async function killAllSidecars(): Promise<void> {
  const children = [...live];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (!alive(child)) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

function tail(logs: readonly LogLine[]): string {
  return logs
    .slice(-30)
    .map((l) => JSON.stringify(l))
    .join('\n');
}

/** Log lines whose message matches. */
export function logsMatching(process: SidecarProcess, message: RegExp): LogLine[] {
  return process.logs.filter((l) => typeof l.message === 'string' && message.test(l.message));
}
