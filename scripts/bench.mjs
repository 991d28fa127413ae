#!/usr/bin/env node
/**
 * `pnpm bench`: the whole benchmark suite of issue 8, against a real OpenSearch, in one command.
 *
 * 1. builds the packages (`pnpm build`: the benchmarks import them by name, resolved to their dist);
 * 2. uses OPENSEARCH_URL, or starts a node of its own with `scripts/opensearch start` (its own home:
 *    .cache/opensearch/bench) and stops it at the end, also when interrupted;
 * 3. runs every benchmark file under bench/ as a child process, one after the other, each bounded in time,
 *    its progress passed on to stderr; collects the one JSON object each prints last;
 * 4. writes docs/benchmarks.json (raw figures, settings, machine), docs/benchmarks.md (tables against the
 *    goals; the hand-written "Profiles and fixes" section of an existing file is kept) and
 *    docs/benchmarks-scaling.svg (chart of (g)).
 *
 * Exit code 1 if a benchmark failed or gave no figures (the documents are written all the same), 0
 * otherwise: missing a goal is reported, not an error.
 *
 * Environment:
 *   OPENSEARCH_URL        use this node instead of starting one (never stopped, never cleaned beyond what
 *                         each benchmark created under its own prefix)
 *   BENCH_QUICK=1         smoke run, 2–3 minutes: small sizes, few repetitions (not figures to quote)
 *   BENCH_ONLY            comma-separated subset: expansion, adapter-write, api-submit, dispatch, e2e-group
 *   BENCH_REPS            repetitions: (b) REPS, (d) ROUNDS (default 3; quick 2), (c) ROUNDS and (a)/(g) REPS
 *                         (default 5; quick 2 and 1)
 *   BENCH_ORDERS          orders of (b) and (d)                     (default 100000; quick 10000)
 *   BENCH_GROUP_SIZES     group sizes of (a)/(g)                    (default 1000,10000,100000; quick 1000,5000,20000)
 *   BENCH_MILLION=1       adds a one-million-agent group to (a)/(g) (opt-in: about 15 more minutes): one
 *                         repetition of it, its sidecar's peak RSS in (f), no dispatch phase
 *   BENCH_DURATION_SEC    duration of each side of (c)              (default 10; quick 3)
 *   BENCH_TIME_LIMIT_MIN  the whole suite's time budget             (default 25; quick 8)
 *   BENCH_SKIP_BUILD=1    do not run `pnpm build`
 *   BENCH_OUT_DIR         where the documents go                    (default docs)
 *   OPENSEARCH_HEAP       heap of the node started here             (scripts/opensearch default: 512m)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killActiveBenchFiles, runBenchFile } from '../bench/lib/run-bench-file.mjs';
import { keptProfilesSection, renderMarkdown } from '../bench/lib/report-markdown.mjs';
import { renderScalingChart } from '../bench/lib/scaling-chart.mjs';
import { summarizeResults } from '../bench/lib/summary.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const started = Date.now();

function log(message) {
  const s = Math.round((Date.now() - started) / 1000);
  const stamp = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  process.stderr.write(`[bench ${stamp}] ${message}\n`);
}

const int = (value, fallback) => {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isInteger(n) && n > 0 ? n : fallback;
};

const QUICK = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
/** Knobs that change what is measured (any of them makes the run "custom"). */
const SIZE_KNOBS = [
  'BENCH_ONLY',
  'BENCH_REPS',
  'BENCH_ORDERS',
  'BENCH_GROUP_SIZES',
  'BENCH_MILLION',
  'BENCH_DURATION_SEC',
];
const KNOBS = [
  'OPENSEARCH_URL',
  'BENCH_QUICK',
  ...SIZE_KNOBS,
  'BENCH_TIME_LIMIT_MIN',
  'BENCH_SKIP_BUILD',
  'BENCH_OUT_DIR',
  'OPENSEARCH_HEAP',
];
const MILLION = env.BENCH_MILLION === '1' || env.BENCH_MILLION === 'true';
const mode = QUICK ? 'quick' : SIZE_KNOBS.some((k) => env[k]) ? 'custom' : 'full';

const settings = {
  reps: int(env.BENCH_REPS, QUICK ? 2 : 3),
  e2eReps: int(env.BENCH_REPS, QUICK ? 1 : 5),
  submitRounds: int(env.BENCH_REPS, QUICK ? 2 : 5),
  orders: int(env.BENCH_ORDERS, QUICK ? 10_000 : 100_000),
  groupSizes:
    (env.BENCH_GROUP_SIZES || (QUICK ? '1000,5000,20000' : '1000,10000,100000')) +
    (MILLION ? ',1000000' : ''),
  million: MILLION,
  durationSec: int(env.BENCH_DURATION_SEC, QUICK ? 3 : 10),
  timeLimitMin: int(env.BENCH_TIME_LIMIT_MIN, (QUICK ? 8 : 25) + (MILLION ? 20 : 0)),
  only: env.BENCH_ONLY ? env.BENCH_ONLY.split(',').map((s) => s.trim()) : undefined,
  outDir: path.resolve(ROOT, env.BENCH_OUT_DIR || 'docs'),
};
const deadline = started + settings.timeLimitMin * 60_000;
const remainingS = () => Math.floor((deadline - Date.now()) / 1000);

/**
 * The benchmark files, in the order they run. `limitS` bounds the child (it is stopped after it);
 * `env.TIME_LIMIT_S`, for files that honour it, makes the file stop starting repetitions earlier.
 */
function benchmarks() {
  const s = settings;
  const list = [
    {
      key: 'expansion',
      file: 'bench/expansion.bench.ts',
      measures: 'supplementary: expansion of a group in memory',
      env: { AGENTS: String(QUICK ? 20_000 : 100_000) },
      runs: 1,
      limitS: QUICK ? 90 : 300,
    },
    {
      key: 'e2e-group',
      file: 'bench/e2e-group.bench.ts',
      measures: '(a), (f: sidecar), (g)',
      env: {
        GROUP_SIZES: s.groupSizes,
        REPS: String(s.e2eReps),
        TIME_LIMIT_S: String((QUICK ? 120 : 600) + (s.million ? 900 : 0)),
        DISPATCH_TIMEOUT_S: String(QUICK ? 60 : 240),
        // The million: one repetition (plus its uncounted warm-up), and no dispatch of its orders.
        ...(s.million ? { LARGE_REPS: '1', DISPATCH_RSS: '0' } : {}),
      },
      runs: 1,
      limitS: (QUICK ? 240 : 900) + (s.million ? 1200 : 0),
    },
    {
      key: 'adapter-write',
      file: 'bench/adapter-write.bench.ts',
      measures: '(b)',
      env: { ORDERS: String(s.orders), REPS: String(s.reps) },
      runs: 1,
      limitS: QUICK ? 150 : 600,
    },
    {
      key: 'api-submit',
      file: 'bench/api-submit.bench.ts',
      measures: '(c)',
      // ROUNDS: the file alternates raw, pass-through and API runs itself.
      env: {
        DURATION_SEC: String(s.durationSec),
        WARMUP_SEC: String(QUICK ? 5 : 30),
        CONNECTIONS: '32',
        ROUNDS: String(s.submitRounds),
      },
      runs: 1,
      limitS: s.submitRounds * s.durationSec * 3 + (QUICK ? 5 : 30) * 3 + 180,
    },
    {
      key: 'dispatch',
      file: 'bench/dispatch.bench.ts',
      measures: '(d), (e), (f: dispatch process)',
      env: {
        ORDERS: String(s.orders),
        ROUNDS: String(s.reps),
        LATENCY_SAMPLES: String(QUICK ? 30 : 200),
        TIME_LIMIT_S: String(QUICK ? 60 : 420),
      },
      runs: 1,
      limitS: QUICK ? 240 : 840,
    },
  ];
  // Benchmark files added later run too, with their own defaults, and are listed as they are.
  const known = new Set(list.map((b) => path.basename(b.file)));
  for (const f of readdirSync(path.join(ROOT, 'bench')).sort()) {
    if (f.endsWith('.bench.ts') && !known.has(f)) {
      list.push({
        key: f.replace(/\.bench\.ts$/, ''),
        file: `bench/${f}`,
        measures: 'other',
        other: true,
        env: {},
        runs: 1,
        limitS: QUICK ? 120 : 300,
      });
    }
  }
  return s.only ? list.filter((b) => s.only.includes(b.key)) : list;
}

function redactUrl(url) {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}

function commandLine() {
  const set = KNOBS.filter((k) => env[k]).map(
    (k) => `${k}=${k === 'OPENSEARCH_URL' ? redactUrl(env[k]) : env[k]}`,
  );
  return [...set, 'pnpm bench'].join(' ');
}

function build() {
  if (env.BENCH_SKIP_BUILD === '1') return log('build skipped (BENCH_SKIP_BUILD=1)');
  log('pnpm build');
  let r = spawnSync('pnpm', ['build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (r.error) {
    // No pnpm on PATH: the same build the root script runs.
    r = spawnSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/sidecar'],
      {
        cwd: ROOT,
        stdio: ['ignore', 2, 2],
      },
    );
  }
  if (r.status !== 0) throw new Error('the build failed');
}

const nodeHome = path.join(ROOT, '.cache', 'opensearch', 'bench');
let ownNode = false;

function opensearchScript(command) {
  return spawnSync('bash', [path.join(ROOT, 'scripts', 'opensearch'), command], {
    cwd: ROOT,
    env: { ...env, OPENSEARCH_HOME_DIR: nodeHome },
    stdio: ['ignore', 'pipe', 2],
    encoding: 'utf8',
  });
}

function startOpenSearch() {
  if (env.OPENSEARCH_URL) {
    log(`using OpenSearch at ${redactUrl(env.OPENSEARCH_URL)} (OPENSEARCH_URL)`);
    return { url: env.OPENSEARCH_URL, source: 'OPENSEARCH_URL' };
  }
  log(`starting an OpenSearch node of our own (scripts/opensearch, home ${path.relative(ROOT, nodeHome)})`);
  ownNode = true;
  const r = opensearchScript('start');
  const url = (r.stdout ?? '').trim().split('\n').pop();
  if (r.status !== 0 || !url) throw new Error('scripts/opensearch start failed');
  return { url, source: 'started by the suite' };
}

function stopOpenSearch() {
  if (!ownNode) return;
  ownNode = false;
  log('stopping our OpenSearch node');
  opensearchScript('stop');
}

async function opensearchVersion(url) {
  try {
    const res = await fetch(url);
    return (await res.json()).version?.number ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function machine(opensearch, version) {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpu_model: cpus[0]?.model?.trim() ?? 'unknown',
    memory_gb: Number((os.totalmem() / 1024 ** 3).toFixed(1)),
    node: process.version,
    opensearch_version: version,
    opensearch_source: opensearch.source,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavg_1m_at_start: Number(os.loadavg()[0].toFixed(2)),
  };
}

const CHART_FILE = 'benchmarks-scaling.svg';

/** Summarises the results and writes benchmarks.json, benchmarks.md and the chart into settings.outDir. */
function writeDocuments(report) {
  const summary = summarizeResults(report.benchmarks);
  report.summary = summary;
  const info = report.machine;
  mkdirSync(settings.outDir, { recursive: true });
  const mdPath = path.join(settings.outDir, 'benchmarks.md');
  writeFileSync(path.join(settings.outDir, 'benchmarks.json'), `${JSON.stringify(report, null, 2)}\n`);
  if (summary.g) {
    const subtitle = `${info.cpus} × ${info.cpu_model}, OpenSearch ${info.opensearch_version}, ${report.generated_at.slice(0, 10)}, ${report.mode} run`;
    writeFileSync(
      path.join(settings.outDir, CHART_FILE),
      renderScalingChart({ sizes: summary.g.sizes, subtitle }),
    );
  }
  const existing = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : undefined;
  writeFileSync(mdPath, renderMarkdown({ ...report, profiles_section: keptProfilesSection(existing) }));
  // The document is checked by `pnpm format:check`: format it as the repository does.
  spawnSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/prettier/bin/prettier.cjs'), '--write', mdPath],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 2],
    },
  );
  log(`wrote ${path.relative(ROOT, mdPath)}, benchmarks.json${summary.g ? `, ${CHART_FILE}` : ''}`);
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
    const m = summary[id];
    const value =
      m === undefined
        ? 'not measured'
        : id === 'e'
          ? `p50 ${m.p50} ms, p99 ${m.p99} ms`
          : id === 'f'
            ? `sidecar peak ${m.sidecar?.peak_mb ?? '—'} MB submitting, ${m.dispatch_sidecar?.peak_rss_mb ?? '—'} MB dispatching; dispatch bench's scheduler process ${m.dispatch_bench?.scheduler_process_mb ?? '—'} MB`
            : id === 'g'
              ? m.sizes
                  .map(
                    (z) =>
                      `${z.size}: ${z.product_us.median.toFixed(1)} vs ${z.raw_us.median.toFixed(1)} µs/order`,
                  )
                  .join('; ')
              : `ratio ${m.ratio?.toFixed(3)} (${Math.round(m.product.median)} vs ${Math.round(m.raw.median)} ${m.unit})`;
    log(`(${id}) ${value} → ${m?.met === true ? 'met' : m?.met === false ? 'MISSED' : 'n/a'}`);
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping the running benchmark and our OpenSearch node`);
    killActiveBenchFiles();
    // Give the benchmark a moment to exit before its node goes.
    setTimeout(() => {
      stopOpenSearch();
      process.exit(130);
    }, 2_000);
  });
}

async function main() {
  log(`mode ${mode}; budget ${settings.timeLimitMin} min; command: ${commandLine()}`);
  build();
  const opensearch = startOpenSearch();
  const results = {};
  let failed = 0;
  let info;
  try {
    const version = await opensearchVersion(opensearch.url);
    info = machine(opensearch, version);
    log(`OpenSearch ${version}; ${info.cpus} × ${info.cpu_model}; load ${info.loadavg_1m_at_start}`);
    const list = benchmarks();
    for (const [i, b] of list.entries()) {
      results[b.key] = { file: b.file, measures: b.measures, env: b.env, other: b.other ?? false, runs: [] };
      for (let run = 0; run < b.runs && !interrupted; run++) {
        const left = remainingS();
        if (left < 30) {
          log(`${b.key}: skipped, the suite's time budget is spent`);
          results[b.key].runs.push({ ok: false, error: 'skipped: the suite time budget was spent' });
          break;
        }
        const limitS = Math.min(b.limitS, left);
        log(
          `(${i + 1}/${list.length}) ${b.file} [${b.measures}] run ${run + 1}/${b.runs}, limit ${limitS} s`,
        );
        const r = await runBenchFile({
          root: ROOT,
          file: b.file,
          label: b.key,
          env: { ...b.env, OPENSEARCH_URL: opensearch.url },
          timeoutMs: limitS * 1000,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        results[b.key].runs.push(r);
        log(`${b.key}: ${r.ok ? 'done' : `FAILED (${r.error})`} in ${r.seconds} s`);
      }
      if (!results[b.key].runs.some((r) => r.ok)) failed++;
    }
  } finally {
    stopOpenSearch();
  }
  if (interrupted) return;

  const report = {
    generated_at: new Date().toISOString(),
    command: commandLine(),
    mode,
    seconds: Math.round((Date.now() - started) / 1000),
    settings: { ...settings, outDir: path.relative(ROOT, settings.outDir) || '.' },
    machine: info,
    summary: undefined,
    benchmarks: results,
    chart_file: CHART_FILE,
  };
  writeDocuments(report);
  if (failed > 0) {
    log(`${failed} benchmark(s) failed`);
    process.exitCode = 1;
  }
}

/** `node scripts/bench.mjs --render`: rewrites the documents from an existing benchmarks.json, no run. */
function renderOnly() {
  const report = JSON.parse(readFileSync(path.join(settings.outDir, 'benchmarks.json'), 'utf8'));
  writeDocuments(report);
}

if (process.argv.includes('--render')) renderOnly();
else
  main().catch((e) => {
    log(`suite failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    stopOpenSearch();
    process.exitCode = 1;
  });
