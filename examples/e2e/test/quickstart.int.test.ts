import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { OPENSEARCH_SCRIPT } from '@command-manager/local-opensearch';
import { REPO_ROOT } from '../src/internal/sidecar-process';

// What a user does on a fresh clone: `./scripts/start --demo` with no OpenSearch configured (so it starts a
// local node of its own), ONE command of the CLI that it prints, and the console in a real browser showing
// that group command at 100%. Nothing is configured but where the quick start keeps its files (a private
// folder below .cache/, so that this node never meets a developer's quick start or the test run's node)
// and a free port; the demo is small (200 agents) to keep the run short.

jest.setTimeout(300_000);

const run = promisify(execFile);
/** Where Debian's `chromium` package installs the browser (`.ci/run` installs it); CHROMIUM_PATH overrides. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Below the repository (as the quick start's own folders): the node's user must be able to reach it. */
const HOME = path.join(REPO_ROOT, '.cache', `quickstart-${randomBytes(3).toString('hex')}`);
const DEV_DIR = path.join(HOME, 'command-manager');
const NODE_HOME = path.join(HOME, 'opensearch');
/** A user's shell: nothing of the test run's OpenSearch or sidecar settings, only the quick start's folders. */
const ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CM_|OPENSEARCH_)/.test(k))),
  CM_DEV_DIR: DEV_DIR,
  OPENSEARCH_HOME_DIR: NODE_HOME,
};

let demo: ChildProcess | undefined;
let browser: Browser | undefined;

/** Starts `./scripts/start --demo` and resolves with what it printed once it says the demo is running. */
function startDemo(): Promise<string> {
  const child = spawn('bash', ['scripts/start', '--demo', '--agents', '200', '--port', '0'], {
    cwd: REPO_ROOT,
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo = child;
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('Ctrl-C stops everything.')) resolve(out);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString('utf8')).slice(-8192);
    });
    child.once('exit', (code) => reject(new Error(`scripts/start --demo exited (${code}):\n${err}`)));
  });
}

/** SIGINT (Ctrl-C) and wait for the demo to stop everything it started; SIGKILL after a minute. */
async function stopDemo(): Promise<void> {
  const child = demo;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
}

beforeAll(() => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium)`);
  }
  mkdirSync(HOME, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await stopDemo();
  // The demo stops its node on Ctrl-C; should it have died before, its node is stopped here by its pid file.
  await run('bash', [OPENSEARCH_SCRIPT, 'stop'], { env: ENV, timeout: 120_000 }).catch(() => undefined);
  rmSync(HOME, { recursive: true, force: true });
});

describe('the quick start from a fresh clone', () => {
  it('`./scripts/start --demo`, one CLI command, and the console shows the group command at 100%', async () => {
    const printed = await startDemo();
    // Its own node, in the private folder: the quick start started it.
    expect(existsSync(path.join(NODE_HOME, 'pid'))).toBe(true);

    // The CLI command exactly as printed (it finds the admin token by itself).
    const submitLine = printed
      .split('\n')
      .find((l) => l.trim().startsWith('node ') && l.includes(' submit '));
    expect(submitLine).toContain('--target-type group');
    const [node, ...args] = (submitLine ?? '').trim().split(/\s+/);
    expect(node).toBe('node');
    const submitted = await run(process.execPath, args, { cwd: REPO_ROOT, env: ENV });
    const answer = /^request (\d+): (\d+) order\(s\)/m.exec(submitted.stdout);
    expect(answer).not.toBeNull();
    const [, id, orders] = answer ?? [];
    expect(Number(orders)).toBeGreaterThan(0);

    // The console, signed in with the token the demo points to.
    const consoleUrl = /^\s*(http:\/\/127\.0\.0\.1:\d+\/console\/)$/m.exec(printed)?.[1];
    expect(consoleUrl).toBeDefined();
    const token = readFileSync(path.join(DEV_DIR, 'admin-token'), 'utf8').trim();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(consoleUrl ?? '');
    await page.fill('#login-token', token);
    await page.click('#login button[type=submit]');
    await page.locator(`tr[data-request-id="${id}"]`).click({ timeout: 15_000 });
    await page.locator('#progress-percent[data-done="true"]').waitFor({ timeout: 120_000 });
    expect(await page.textContent('#progress-percent')).toContain('100%');
    // Every order came back from the simulated agents: successes and the demo's failing agents.
    const counts = (await page.textContent('#progress-counts')) ?? '';
    const count = (status: string): number => Number(new RegExp(`${status} (\\d+)`).exec(counts)?.[1]);
    expect(count('success') + count('failure')).toBe(Number(orders));
    expect(count('success')).toBeGreaterThan(0);
    expect(count('failure')).toBeGreaterThan(0);
  });
});
