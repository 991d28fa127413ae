/**
 * Credentials inside URL settings (`OPENSEARCH_URL`, `CM_MANAGEMENT_API_URL`) never reach the log: a real
 * `serve` process at debug level, through start-up, a submission, failed deliveries to an unreachable
 * Management API and shutdown; its whole stderr is searched for the secrets, raw and percent-encoded.
 */
import { killLeftovers, runCli, startServe } from './support/cli-process';
import { createFixture, submitRestart, type Fixture } from './support/fixture';

/**
 * The URL's credentials: on a secured node the sidecar user's own (the node refuses any other), else made up
 * (a node without security ignores Basic).
 */
const OS_USER = process.env.OPENSEARCH_USERNAME || 'cm-user';
const OS_SECRET = process.env.OPENSEARCH_PASSWORD || 'Os-S3cret-pw';
const MGMT_SECRET = 'Mgmt-S3cret-pw';
let fx: Fixture;

jest.setTimeout(120_000);

beforeAll(async () => {
  fx = await createFixture(__filename, { web: ['agent-001', 'agent-002'] });
});

afterEach(async () => {
  await killLeftovers();
});

afterAll(async () => {
  await fx.cleanup();
});

/** `http://host:port` → `http://user:secret@host:port`. */
function withCredentials(url: string, user: string, secret: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = secret;
  return u.toString().replace(/\/$/, '');
}

function leaks(stderr: string): string[] {
  return [OS_SECRET, MGMT_SECRET, encodeURIComponent(OS_SECRET), `${OS_USER}:`, 'mgmt-user:'].filter((s) =>
    stderr.includes(s),
  );
}

describe('secrets in URL settings', () => {
  it('never appear in the log of a running sidecar, from start-up to shutdown', async () => {
    const serve = await startServe({
      ...fx.env,
      OPENSEARCH_URL: withCredentials(fx.env.OPENSEARCH_URL as string, OS_USER, OS_SECRET),
      // Nobody listens on port 1: every delivery fails and is logged.
      CM_MANAGEMENT_API_URL: `http://mgmt-user:${MGMT_SECRET}@127.0.0.1:1/`,
      CM_ORDERS_INDEX: `${fx.prefix}orders`,
      CM_LOG_LEVEL: 'debug',
      CM_RETRY_BASE_MS: '100',
      CM_RETRY_MAX_MS: '200',
    });
    const res = await submitRestart(serve.url, fx.adminToken, { type: 'group', id: 'web' });
    expect(res.status).toBe(201);
    await serve.waitFor(/delivery|accept_commands|ECONNREFUSED/i, 'stderr');
    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
    const stderr = serve.stderr();
    // The URLs themselves are logged (where the sidecar connects), without their credentials.
    expect(stderr).toContain('127.0.0.1');
    expect(leaks(stderr)).toEqual([]);
  });

  it('never appear in the configuration error of a bad setting', async () => {
    const result = await runCli(['serve'], {
      ...fx.env,
      OPENSEARCH_URL: withCredentials(fx.env.OPENSEARCH_URL as string, OS_USER, OS_SECRET),
      CM_MANAGEMENT_API_URL: `http://mgmt-user:${MGMT_SECRET}@127.0.0.1:1/`,
      CM_HTTP_PORT: 'not-a-port',
    });
    expect(result.code).toBe(4);
    expect(leaks(result.stdout + result.stderr)).toEqual([]);
  });
});
