import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildOpenApiDocument } from '@command-manager/express';

// The served OpenAPI document, linted by Redocly CLI with its built-in `recommended` rules (a devDependency
// of the workspace, so this runs wherever the tests do): no error. Warnings are printed, not failed on.

const run = promisify(execFile);
const redocly = path.resolve(__dirname, '../../../node_modules/.bin/redocly');

interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: Array<{ pointer: string }>;
}
interface LintReport {
  totals: { errors: number; warnings: number };
  problems: LintProblem[];
}

async function lint(document: unknown): Promise<LintReport> {
  const dir = mkdtempSync(path.join(tmpdir(), 'openapi-lint-'));
  try {
    const file = path.join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document, null, 2));
    // Exit code 1 means "problems found": the JSON report on stdout says which.
    const { stdout } = await run(redocly, ['lint', '--format=json', file], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    return JSON.parse(stdout) as LintReport;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const describeProblem = (p: LintProblem): string =>
  `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '?'}: ${p.message}`;

describe('OpenAPI document under a standard linter (Redocly CLI, recommended rules)', () => {
  it('has no error', async () => {
    const report = await lint(buildOpenApiDocument());
    const warnings = report.problems.filter((p) => p.severity !== 'error');
    if (warnings.length > 0) process.stdout.write(`${warnings.map(describeProblem).join('\n')}\n`);
    expect(report.problems.filter((p) => p.severity === 'error').map(describeProblem)).toEqual([]);
    expect(report.totals.errors).toBe(0);
  }, 60_000);

  it('reports an error when the document has one (the linter is really run)', async () => {
    const broken = buildOpenApiDocument();
    delete (broken as { servers?: unknown }).servers;
    const report = await lint(broken);
    expect(report.problems.map((p) => p.ruleId)).toContain('no-empty-servers');
  }, 60_000);
});
