import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export interface RunningExample {
  url: string;
  /** Everything the process wrote to stderr so far. */
  output: () => string;
  /** SIGTERM, then resolves with the exit code once the process is gone. */
  stop(): Promise<number | null>;
}

const ROOT = path.resolve(__dirname, '../../../..');

/**
 * Starts an example's `src/main.ts` as its own process, the way its README says
 * (`node -r ts-node/register/transpile-only examples/<name>/src/main.ts`), and resolves with the URL it
 * announces on stderr ("listening on http://…").
 */
export function spawnExample(
  name: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<RunningExample> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'examples', name, 'src', 'main.ts'), ...args],
    {
      cwd: ROOT,
      // ts-node's register takes the tsconfig.json of the working directory; name the example's own, so that
      // the compile options do not depend on where the test runs from.
      env: { ...process.env, TS_NODE_PROJECT: path.join(ROOT, 'examples', name, 'tsconfig.json'), ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m?.[1]) {
        const url = m[1];
        resolve({
          url,
          output: () => output,
          stop: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`${name} exited (${code}) before listening:\n${output}`)));
  });
}
