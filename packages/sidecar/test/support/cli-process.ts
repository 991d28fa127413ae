import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REGISTER_SOURCE } from '@command-manager/test-support';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const MAIN = path.join(ROOT, 'packages', 'sidecar', 'src', 'main.ts');

/** Every process started here, so that a failing test still leaves none behind (see `killLeftovers`). */
const started = new Set<ChildProcess>();

function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  // Only what the test configures: CM_* / OPENSEARCH_* variables of the calling shell must not leak in.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(CM_|OPENSEARCH_)/.test(k)),
  );
  return { ...inherited, TS_NODE_PROJECT: path.join(__dirname, 'tsconfig.ts-node.json'), ...env };
}

/** `command-manager <args>` from the sources: `node -r ts-node/register/transpile-only … src/main.ts`. */
function spawnMain(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', REGISTER_SOURCE, MAIN, ...args],
    { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one CLI command to its end; killed (and the test failed by its null code) after `timeoutMs`. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  const child = spawnMain(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves once stdout or stderr (as chosen) matches; rejects if the process ends first. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr'): Promise<RegExpExecArray>;
  signal(signal: NodeJS.Signals): void;
}

/** Starts a CLI command that keeps running (`serve`, `status --watch`). */
export function startCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawnMain(args, env);
  const out = { stdout: '', stderr: '' };
  const listeners = new Set<() => void>();
  const onData = (stream: 'stdout' | 'stderr') => (c: Buffer) => {
    out[stream] += c.toString('utf8');
    for (const l of [...listeners]) l();
  };
  child.stdout?.on('data', onData('stdout'));
  child.stderr?.on('data', onData('stderr'));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let ended = false;
  void exited.then(() => {
    ended = true;
    for (const l of [...listeners]) l();
  });
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    exited,
    waitFor: (pattern, stream = 'stderr') =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(out[stream]);
          if (m) {
            listeners.delete(check);
            resolve(m);
          } else if (ended) {
            listeners.delete(check);
            reject(new Error(`exited (${child.exitCode}) before ${pattern}:\n${out.stderr.slice(-4000)}`));
          }
        };
        listeners.add(check);
        check();
      }),
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** `serve`, resolved once it listens. */
export async function startServe(
  env: Record<string, string>,
  args: string[] = [],
): Promise<RunningCli & { url: string }> {
  const serve = startCli(['serve', ...args], env);
  const m = await serve.waitFor(/listening on (https?:\/\/\S+)/);
  return { ...serve, url: m[1] as string };
}

/** Kills (SIGKILL) whatever a test left running and waits for it to be gone. */
export async function killLeftovers(): Promise<void> {
  await Promise.all(
    [...started].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
