/**
 * Runs one benchmark file as a child process, the way each file documents it:
 * `node -r ts-node/register/transpile-only bench/<topic>.bench.ts` (packages resolve to their built dist).
 * Its stderr (progress) is passed on line by line with a label; its stdout's last non-empty line is the one
 * JSON object of figures. The child gets its own process group (`detached`), so that a timeout ends it and
 * whatever it started (e.g. the sidecar of the e2e benchmark) by that group's id, and nothing else.
 */
import { spawn } from 'node:child_process';

/**
 * @param {{ root: string, file: string, label: string, env: Record<string, string>, timeoutMs: number,
 *           log: (line: string) => void }} options
 * @returns {Promise<{ ok: boolean, figures?: unknown, exitCode: number | null, signal: string | null,
 *           seconds: number, error?: string, timedOut: boolean }>}
 */
export function runBenchFile(options) {
  const { root, file, label, env, timeoutMs, log } = options;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', file], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    activeChildren.add(child);
    let stdout = '';
    let stderrTail = [];
    let pending = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        log(`[${label}] ${line}`);
        stderrTail.push(line);
        if (stderrTail.length > 20) stderrTail = stderrTail.slice(-20);
      }
    });
    const timer = setTimeout(() => {
      timedOut = true;
      log(`[${label}] time limit of ${Math.round(timeoutMs / 1000)} s reached: stopping it`);
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 10_000).unref();
    }, timeoutMs);
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      activeChildren.delete(child);
      if (pending) log(`[${label}] ${pending}`);
      const seconds = Math.round((Date.now() - started) / 1000);
      const last = stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .pop();
      let figures;
      let error;
      try {
        figures = last === undefined ? undefined : JSON.parse(last);
      } catch {
        error = `last stdout line is not JSON: ${last.slice(0, 200)}`;
      }
      if (exitCode !== 0 || figures === undefined || timedOut) {
        error ??= timedOut
          ? `stopped after its time limit (${Math.round(timeoutMs / 1000)} s)`
          : `exit code ${exitCode}${signal ? `, signal ${signal}` : ''}; last stderr: ${stderrTail.slice(-3).join(' | ')}`;
      }
      resolve({ ok: error === undefined, figures, exitCode, signal, seconds, error, timedOut });
    });
  });
}

/** Children still running, so that an interrupted runner can end them. */
const activeChildren = new Set();

function killGroup(child, signal) {
  try {
    // A negative pid addresses the child's process group (it was spawned detached, as its leader).
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Ends every benchmark still running (runner interrupted). */
export function killActiveBenchFiles() {
  for (const child of activeChildren) killGroup(child, 'SIGTERM');
}
