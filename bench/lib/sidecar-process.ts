/**
 * The sidecar as the product runs: `node --max-old-space-size=128 packages/sidecar/dist/main.js serve`, in its own process, so that
 * its memory is its own (no benchmark code, no ts-node compiler in it). `serve` reads its configuration from
 * the environment (`loadConfig`) and wires everything with `startSidecar`; it prints
 * `command manager listening on <url>` on stderr once the API listens, and stops gracefully on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const MAIN_JS = path.resolve(__dirname, '..', '..', 'packages', 'sidecar', 'dist', 'main.js');
const READY = /command manager listening on (\S+)/;
/** The V8 heap cap the product is started with (scripts/start, docker/Dockerfile). */
export const SIDECAR_HEAP_FLAG = '--max-old-space-size=128';

export interface SidecarProcess {
  url: string;
  pid: number;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartSidecarProcessOptions {
  /** `CM_*` and `OPENSEARCH_*` settings; the parent's own `CM_*` variables are not passed on. */
  env: Record<string, string>;
  startTimeoutMs?: number;
  /** Receives the sidecar's stderr lines (JSON logs). */
  onLog?: (line: string) => void;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startSidecarProcess(options: StartSidecarProcessOptions): Promise<SidecarProcess> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CM_')) env[k] = v;
  Object.assign(env, options.env);
  // With the heap cap scripts/start and docker/Dockerfile give it (unless NODE_OPTIONS sets one).
  const heapFlag = env.NODE_OPTIONS?.includes('max-old-space-size') ? [] : [SIDECAR_HEAP_FLAG];
  // SIDECAR_NODE_FLAGS: extra Node flags for the sidecar only, to profile it (e.g. `--cpu-prof
  // --cpu-prof-dir=/tmp/prof`, which Node refuses in NODE_OPTIONS).
  const extraFlags = (process.env.SIDECAR_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
  const child = spawn(process.execPath, [...heapFlag, ...extraFlags, MAIN_JS, 'serve'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the sidecar');

  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    let ready = false;
    const timer = setTimeout(
      () => reject(new Error('the sidecar did not start in time')),
      options.startTimeoutMs ?? 60_000,
    );
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const m = ready ? null : READY.exec(line);
        if (m?.[1] !== undefined) {
          ready = true;
          clearTimeout(timer);
          resolve(m[1]);
        } else options.onLog?.(line);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`the sidecar exited before listening (code ${code}, signal ${signal})`));
    });
  });

  let stopping: Promise<void> | undefined;
  return {
    url,
    pid,
    stop(graceMs = 15_000): Promise<void> {
      stopping ??= (async () => {
        const gone = exited(child);
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await gone;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
