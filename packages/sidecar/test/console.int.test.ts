import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { generateApiToken, hashApiToken } from '@command-manager/express';
import { killLeftovers, startServe } from './support/cli-process';
import { callApi, createFixture, eventually, submitRestart, type Fixture } from './support/fixture';
import { startReportingManagementApi, type ReportingManagementApi } from './support/reporting-management-api';

// The console in a real browser (Debian's chromium, driven by playwright-core: no browser download), served
// by a real `command-manager serve` against the test OpenSearch, with a Management API stand-in that reports
// results. Writes screenshots of the main screens to docs/.

const ROOT = path.resolve(__dirname, '..', '..', '..');
const API = '/_plugins/_command_manager';
/** Where Debian's `chromium` package installs the browser (`.ci/run` installs it); CHROMIUM_PATH overrides. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ok = Array.from({ length: 40 }, (_, i) => `agent-${String(i + 1).padStart(3, '0')}`);
const failing = Array.from({ length: 10 }, (_, i) => `failing-${String(i + 1).padStart(3, '0')}`);
const silent = Array.from({ length: 5 }, (_, i) => `silent-${String(i + 1).padStart(3, '0')}`);

let fx: Fixture;
let mgmt: ReportingManagementApi;
let url: string;
let browser: Browser;
let page: Page;
/** A caller with the `auditor` role only: reads the audit trail, not the requests. */
const auditorToken = generateApiToken();

async function submit(group: string, extra: Record<string, unknown> = {}): Promise<number> {
  const res = await submitRestart(url, fx.adminToken, { type: 'group', id: group }, extra);
  expect(res.status).toBe(201);
  return res.body.commands[0]?.request_id ?? 0;
}

async function shot(name: string): Promise<void> {
  mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
  await page.screenshot({ path: path.join(ROOT, 'docs', `console-${name}.png`), fullPage: true });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium)`);
  }
  // The sidecar serves the console's compiled modules (`pnpm build`); build them if this tree has not.
  if (!existsSync(path.join(ROOT, 'packages', 'console', 'dist', 'main.js'))) {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', 'packages/console'], {
      cwd: ROOT,
    });
  }
  fx = await createFixture(__filename, { web: [...ok, ...failing], quiet: silent });
  const users = JSON.parse(readFileSync(fx.usersFile, 'utf8')) as { tokens: unknown[] };
  users.tokens.push({ name: 'test-auditor', token_sha256: hashApiToken(auditorToken), roles: ['auditor'] });
  writeFileSync(fx.usersFile, JSON.stringify(users), { mode: 0o600 });
  mgmt = await startReportingManagementApi();
  const serve = await startServe({
    ...fx.env,
    CM_ORDERS_INDEX: `${fx.prefix}commands`,
    CM_MANAGEMENT_API_URL: mgmt.url,
    CM_AUDIT_FLUSH_INTERVAL_MS: '100',
  });
  url = serve.url;
  mgmt.reportTo({ url, token: fx.commsToken });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await killLeftovers();
  await mgmt?.close();
  await fx?.cleanup();
});

describe('the console', () => {
  it('is served with a Content-Security-Policy and no inline script, and asks for credentials', async () => {
    const res = await page.goto(`${url}/console/`);
    expect(res?.status()).toBe(200);
    const csp = res?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await page.locator('script:not([src])').count()).toBe(0);
    // Only compiled modules are served from the build directory.
    expect((await fetch(`${url}/console/main.d.ts`)).status).toBe(404);
    await page.locator('#login').waitFor();
    // A wrong token is refused and not kept.
    await page.fill('#login-token', 'not-a-token');
    await page.click('#login button[type=submit]');
    await page.locator('#login-error', { hasText: 'refused' }).waitFor();
    await shot('login');
    await page.fill('#login-token', fx.adminToken);
    await page.click('#login button[type=submit]');
    await page.locator('#requests').waitFor();
    expect(page.url()).not.toContain(fx.adminToken);
  });

  it('follows a group command to 100%, breaks failures down by code, and re-runs only the failed targets', async () => {
    const id = await submit('web');
    await page.goto(`${url}/console/#/requests`);
    await page.locator(`tr[data-request-id="${id}"]`).click({ timeout: 15_000 });
    await page.locator('#progress-percent[data-done="true"]').waitFor({ timeout: 60_000 });
    expect(await page.textContent('#progress-percent')).toContain('100%');
    expect(await page.textContent('#progress-counts')).toContain('success 40');
    expect(await page.textContent('#progress-counts')).toContain('failure 10');
    const code = page.locator('#failure-codes tr[data-code="42"]');
    expect(await code.textContent()).toContain('10');
    expect(await code.textContent()).toContain('disk full');
    await page.locator('#failed-order-rows tbody tr').first().waitFor();
    expect(await page.locator('#failed-order-rows tbody tr').count()).toBe(10);
    await shot('request');

    await page.click('#rerun');
    await page.locator('.rerun-link').first().waitFor();
    // The failed agents are re-run as one request (an `agents` target).
    expect(await page.locator('.rerun-link').count()).toBe(1);
    type Listed = {
      requests: Array<{
        request: { command: { rerun_of?: number; target: { type: string; ids?: string[] } } };
      }>;
    };
    const reruns = async (): Promise<string[]> => {
      const list = await callApi<Listed>(url, fx.adminToken, 'GET', `${API}/requests?size=50`);
      return list.body.requests
        .filter((r) => r.request.command.rerun_of === id)
        .flatMap((r) => r.request.command.target.ids ?? [])
        .sort();
    };
    // The list is a search: it sees the new records after the next refresh of the index.
    expect(await eventually(reruns, (ids) => ids.length >= failing.length, 10_000)).toEqual(failing);
    await page.locator('.rerun-link').first().click();
    await page.locator('#parent-link').waitFor();
    expect(await page.textContent('#parent-link')).toBe(`#${id}`);
  });

  it('filters the requests list', async () => {
    await page.goto(`${url}/console/#/requests?status=success`);
    await page.locator('#list-status', { hasText: 'request(s)' }).waitFor();
    // The re-runs of failing agents fail again: none of them has a success order.
    const rows = await page.locator('#request-rows tr').count();
    expect(rows).toBe(1);
    await page.selectOption('#filters select[name=status]', 'failure');
    await page.click('#filters button[type=submit]');
    await page.locator('#list-status', { hasText: '2 request(s)' }).waitFor();
    await shot('requests');
  });

  it('cancels the pending orders of a request', async () => {
    // One order in flight at a time, to agents that never answer: the others stay pending.
    const id = await submit('quiet', { max_concurrency: 1 });
    await page.goto(`${url}/console/#/requests/${id}`);
    await page.locator('#progress-counts', { hasText: 'sent 1' }).waitFor({ timeout: 30_000 });
    await page.click('#cancel');
    const notice = page.locator('#action-result', { hasText: /Cancelled \d pending order/ });
    await notice.waitFor();
    // An order being dispatched at that moment is left to its delivery (in flight): a second cancel takes it.
    if ((await notice.textContent())?.includes('in flight')) {
      await page.waitForTimeout(1000);
      await page.click('#cancel');
    }
    await page.locator('#progress-counts', { hasText: 'failure 4' }).waitFor({ timeout: 15_000 });
    expect(await page.textContent('#progress-counts')).toContain('sent 1');
  });

  async function signIn(token: string): Promise<void> {
    await page.goto(`${url}/console/#/requests`);
    if (await page.locator('#logout').isVisible()) await page.click('#logout');
    await page.fill('#login-token', token);
    await page.click('#login button[type=submit]');
  }

  it('lists the audit trail, filtered and paged, to an auditor, and tells a caller without the role', async () => {
    // By now: submissions, a re-run, cancels, and the refused sign-in (401) of the first test. The trail is
    // a search: it shows the last cancel after the next refresh of the index.
    type Trail = { records: Array<{ operation: string }> };
    const trail = (): Promise<Trail> =>
      callApi<Trail>(url, fx.adminToken, 'GET', `${API}/audit?size=100`).then((r) => r.body);
    await eventually(trail, (t) => t.records.some((r) => r.operation === 'cancel'), 10_000);
    await page.goto(`${url}/console/#/audit`);
    await page.locator('#audit-status', { hasText: 'record(s)' }).waitFor();
    const submit = page.locator('#audit-rows tr', { hasText: 'POST …/commands' });
    expect(await submit.count()).toBeGreaterThanOrEqual(3);
    expect(await submit.first().textContent()).toContain('test-admin');
    expect(await page.locator('#audit-rows tr[data-outcome="refused"]').count()).toBeGreaterThanOrEqual(1);
    await shot('audit');

    // The API's cursor behind "More": two records a page.
    await page.goto(`${url}/console/#/audit?size=2`);
    await page.locator('#audit-status', { hasText: /^2 record\(s\)$/ }).waitFor();
    await page.click('#audit-more');
    await page.locator('#audit-status', { hasText: /^4 record\(s\)$/ }).waitFor();
    expect(await page.locator('#audit-rows tr[data-seq="3"]').count()).toBe(1);

    await page.selectOption('#audit-filters select[name=outcome]', 'refused');
    await page.click('#audit-filters button[type=submit]');
    await page.waitForURL(/outcome=refused/);
    // The filtered page replaces the list: refused records only, still two a page.
    await page.waitForFunction(
      `(() => {
        const rows = document.querySelectorAll('#audit-rows tr');
        return rows.length > 0 && rows.length === document.querySelectorAll('#audit-rows tr[data-outcome="refused"]').length;
      })()`,
    );
    expect(await page.locator('#audit-rows tr').count()).toBeLessThanOrEqual(2);

    // An auditor may not read the requests: signing in opens the audit trail.
    await signIn(auditorToken);
    await page.locator('#audit-status', { hasText: 'record(s)' }).waitFor();
    expect(page.url()).toContain('#/audit');

    // A caller without the role is told why, not shown an empty trail.
    await signIn(fx.commsToken);
    await page.locator('#audit-status[data-status="403"]').waitFor();
    expect(await page.textContent('#audit-status')).toContain('auditor');
    expect(await page.locator('#audit-rows tr').count()).toBe(0);
  });
});
