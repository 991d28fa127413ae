import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { REGISTER_SOURCE } from '@command-manager/test-support';

/** The repository root (this file is `examples/e2e/src/internal/sidecar-process.ts`). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export interface SidecarProcess {
  /** The API's base URL, as the process announced it. */
  url: string;
  pid: number;
  /** Where the process's stdout and stderr (JSON logs) go. */
  logFile: string;
  /** The last lines it wrote, for error messages. */
  tail(): string;
  /** SIGTERM (graceful stop), SIGKILL after `timeoutMs`; resolves with the exit code (null if killed). */
  stop(timeoutMs?: number): Promise<number | null>;
}

export interface StartSidecarProcessOptions {
  /** Configuration, as environment variables (the sidecar's documented way). */
  env: Record<string, string>;
  logFile: string;
  /** Bound on start-up (OpenSearch setup included); default 120,000. */
  startTimeoutMs?: number;
}

/**
 * Starts `command-manager serve` from the sources of this tree, in its own process, the way an operator runs
 * it: `node -r ts-node/register/transpile-only packages/sidecar/src/main.ts serve`, configured by environment
 * variables. Resolves once it prints `listening on <url>`.
 */
export function startSidecarProcess(options: StartSidecarProcessOptions): Promise<SidecarProcess> {
  // Only what the caller configures: a CM_* or OPENSEARCH_* variable of the calling shell must not change the run.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(CM_|OPENSEARCH_)/.test(k)),
  );
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      REGISTER_SOURCE,
      path.join(REPO_ROOT, 'packages', 'sidecar', 'src', 'main.ts'),
      'serve',
    ],
    {
      cwd: REPO_ROOT,
      env: {
        ...inherited,
        TS_NODE_PROJECT: path.join(REPO_ROOT, 'examples', 'e2e', 'tsconfig.json'),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const log = createWriteStream(options.logFile, { mode: 0o600 });
  let recent = '';
  const keep = (chunk: Buffer): void => {
    recent = (recent + chunk.toString('utf8')).slice(-8192);
  };
  child.stdout.on('data', keep);
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const tail = (): string => recent.split('\n').slice(-20).join('\n');

  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      log.end();
      resolve(code);
    });
  });

  return new Promise<SidecarProcess>((resolve, reject) => {
    const startTimer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`the sidecar did not start within ${options.startTimeoutMs ?? 120_000} ms:\n${tail()}`),
      );
    }, options.startTimeoutMs ?? 120_000);
    let announced = false;
    child.stderr.on('data', (chunk: Buffer) => {
      keep(chunk);
      const m = announced ? null : /listening on (https?:\/\/\S+)/.exec(recent);
      if (!m?.[1]) return;
      announced = true;
      clearTimeout(startTimer);
      resolve({
        url: m[1],
        pid: child.pid ?? 0,
        logFile: options.logFile,
        tail,
        stop: async (timeoutMs = 30_000) => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const force = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          try {
            return await exited;
          } finally {
            clearTimeout(force);
          }
        },
      });
    });
    void exited.then((code) => {
      clearTimeout(startTimer);
      if (!announced) reject(new Error(`the sidecar exited (code ${code}) before listening:\n${tail()}`));
    });
  });
}
