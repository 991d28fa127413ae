import { execFile, spawnSync } from 'node:child_process';

/**
 * `promtool check metrics` (Prometheus's linter of the exposition format: names, HELP and TYPE, units,
 * counters ending in `_total` …), from Debian's `prometheus` package, which `.ci/run` installs.
 */

/** Where promtool is (found on PATH, where Debian's package puts it), or undefined when it is not installed. */
export function promtoolPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

/**
 * Why a test that needs promtool cannot run here: undefined when promtool is installed. In CI (`CI` set) a
 * missing promtool is an error, thrown, never a skip.
 */
export function promtoolMissing(): string | undefined {
  if (promtoolPath() !== undefined) return undefined;
  const reason = "promtool is not installed (Debian's package `prometheus`: apt-get install prometheus)";
  if (process.env.CI) throw new Error(`${reason}; .ci/run installs it`);
  return reason;
}

/** The problems promtool reports in a /metrics text, one per line: an empty list when there is none. */
export function promtoolCheckMetrics(text: string): Promise<string[]> {
  const promtool = promtoolPath();
  if (promtool === undefined) return Promise.reject(new Error(promtoolMissing() ?? 'promtool not found'));
  return new Promise((resolve, reject) => {
    const child = execFile(promtool, ['check', 'metrics'], (error, stdout, stderr) => {
      const problems = `${stdout}\n${stderr}`
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      // Exit 0: clean; 3: lint problems (listed); anything else: it could not run or parse.
      if (!error) resolve(problems);
      else if (error.code === 3) resolve(problems.length > 0 ? problems : ['promtool exited 3']);
      else reject(new Error(`promtool check metrics failed: ${error.message}\n${stderr}`));
    });
    child.stdin?.end(text);
  });
}
