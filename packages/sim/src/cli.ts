/**
 * `pnpm sim`: the simulator's command line.
 *
 *   pnpm sim                           the short sweep (seeds 1–300), as CI runs it
 *   pnpm sim --seeds 5000 --from 1000  a longer sweep
 *   pnpm sim --seed 42 --verbose       replays one seed, printing its trace
 *   pnpm sim --break=lease-expiry-wallclock
 *                                      the sweep with a deliberately broken lease rule (it must fail)
 *   pnpm sim --scale 50x1000000x64     one scale run: sidecars x orders x partitions, with kills and skew
 *
 * Exit code 1 when a seed violates an invariant (with `--break`, when none does).
 */
import { BREAK_RULES, DEFAULT_SETTINGS, runSeed, sweepOptions } from './world';
import type { BreakRule, RunOptions, RunResult } from './world';
import { replayCommand, runSweep } from './sweep';

interface Args {
  seeds: number;
  from: number;
  seed?: number;
  breakRule?: BreakRule;
  scale?: { sidecars: number; orders: number; partitions: number };
  verbose: boolean;
}

function parse(argv: readonly string[]): Args {
  const args: Args = { seeds: 300, from: 1, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] ?? '').split('=', 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = (): number => {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer`);
      return n;
    };
    switch (flag) {
      case '--seeds':
        args.seeds = int();
        break;
      case '--from':
        args.from = int();
        break;
      case '--seed':
        args.seed = int();
        break;
      case '--verbose':
        args.verbose = true;
        break;
      case '--break': {
        const rule = value();
        if (!(BREAK_RULES as readonly string[]).includes(rule))
          throw new Error(`--break must be one of ${BREAK_RULES.join(', ')}`);
        args.breakRule = rule as BreakRule;
        break;
      }
      case '--scale': {
        const m = /^(\d+)x(\d+)x(\d+)$/.exec(value());
        if (!m) throw new Error('--scale needs SIDECARSxORDERSxPARTITIONS, e.g. 50x1000000x64');
        args.scale = { sidecars: Number(m[1]), orders: Number(m[2]), partitions: Number(m[3]) };
        break;
      }
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  return args;
}

function describe(result: RunResult, breakRule?: BreakRule): string {
  const v = result.violation;
  if (!v) return `seed ${result.seed}: ok`;
  return [
    `seed ${result.seed}: ${v.invariant} violated: ${v.message}`,
    `  replay: ${replayCommand(result.seed, breakRule)}`,
    '  last trace lines:',
    ...result.excerpt.slice(-12).map((l) => `    ${l}`),
  ].join('\n');
}

/**
 * Options of a scale run: the sweep's faults at the given size (kills, joins and leaves at about two of each per
 * simulated minute for the whole cluster, clock skew and jumps per sidecar, for two simulated minutes), every
 * order submitted within the first ten simulated seconds with timeouts long enough that dispatch capacity, not deadlines, decides the pace;
 * agents all answer, so the run ends once every order is decided.
 */
export function scaleOptions(seed: number, s: NonNullable<Args['scale']>): RunOptions {
  const base = sweepOptions(seed);
  return {
    ...base,
    sidecars: s.sidecars,
    maxSidecars: s.sidecars + Math.ceil(s.sidecars / 10),
    orders: s.orders,
    maxOrdersPerRequest: 1000,
    workloadMs: 120_000,
    submitMs: 10_000,
    timeoutS: [600, 900],
    // A rollout limit paces its request by its agents' answers, not by dispatch capacity.
    rolloutShare: 0,
    endWhenSettled: true,
    faults: {
      ...base.faults,
      agentSilent: 0,
      killsPerMinute: 2 / s.sidecars,
      joinsPerMinute: 1,
      leavesPerMinute: 1,
    },
    settings: { ...DEFAULT_SETTINGS, partitions: s.partitions, batchSize: 500, concurrency: 4 },
    // The partition ownership check reads every sidecar's leases; at this size, every 50 steps.
    ownershipCheckEvery: 50,
  };
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args.scale) {
    const seed = args.seed ?? 1;
    const started = performance.now();
    const result = await runSeed({ ...scaleOptions(seed, args.scale), verbose: args.verbose });
    const wallS = (performance.now() - started) / 1000;
    const st = result.stats;
    // From the first submission until 90 % of the orders were accepted (the rest is the retry tail).
    const dispatchS = Math.max(1, st.acceptedByMs.p90) / 1000;
    const rebalance = [...st.rebalanceMs].sort((a, b) => a - b);
    const pct = (q: number): number =>
      rebalance[Math.min(rebalance.length - 1, Math.floor(q * rebalance.length))] ?? 0;
    const summary = {
      scale: args.scale,
      seed,
      ok: !result.violation,
      violation: result.violation,
      wallSeconds: Math.round(wallS * 10) / 10,
      simulatedSeconds: Math.round(st.simulatedMs / 1000),
      steps: st.steps,
      ordersWritten: st.ordersWritten,
      accepted: st.accepted,
      acceptedBySeconds: Object.fromEntries(
        Object.entries(st.acceptedByMs).map(([k, v]) => [k, Math.round(v / 100) / 10]),
      ),
      meanSidecars: Math.round(st.meanSidecars * 10) / 10,
      deliveredPerSimSecond: Math.round((0.9 * st.accepted) / dispatchS),
      deliveredPerSimSecondPerSidecar:
        Math.round(((0.9 * st.accepted) / dispatchS / Math.max(1, st.meanSidecars)) * 100) / 100,
      kills: st.kills,
      joins: st.joins,
      leaves: st.leaves,
      duplicated: st.duplicated,
      lateOverlaps: st.lateOverlaps,
      duplicatesPerKill: st.kills ? Math.round((st.duplicated / st.kills) * 100) / 100 : 0,
      rebalances: rebalance.length,
      rebalanceMsMedian: pct(0.5),
      rebalanceMsP95: pct(0.95),
      rebalanceMsMax: rebalance[rebalance.length - 1] ?? 0,
      heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    if (result.violation) process.stdout.write(`${describe(result)}\n`);
    return result.violation ? 1 : 0;
  }
  if (args.seed !== undefined) {
    const result = await runSeed({ ...sweepOptions(args.seed, args.breakRule), verbose: args.verbose });
    process.stdout.write(`${describe(result, args.breakRule)}\ntrace ${result.traceHash}\n`);
    return result.violation ? 1 : 0;
  }
  const tty = process.stderr.isTTY;
  const totals = { orders: 0, duplicated: 0, lateOverlaps: 0, kills: 0 };
  const sweep = await runSweep({
    firstSeed: args.from,
    seeds: args.seeds,
    ...(args.breakRule && { breakRule: args.breakRule }),
    onProgress: (done, total, failures, last) => {
      totals.orders += last.stats.ordersWritten;
      totals.duplicated += last.stats.duplicated;
      totals.lateOverlaps += last.stats.lateOverlaps;
      totals.kills += last.stats.kills;
      if (last.violation) process.stderr.write(`${tty ? '\n' : ''}${describe(last, args.breakRule)}\n`);
      if (tty) process.stderr.write(`\rseeds ${done}/${total}, failures ${failures}`);
      else if (done % 50 === 0 || done === total)
        process.stderr.write(`seeds ${done}/${total}, failures ${failures}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  const line =
    `${sweep.runs} seeds from ${args.from}, ${sweep.failures.length} failing, ${(sweep.wallMs / 1000).toFixed(1)} s; ` +
    `${totals.orders} orders, ${totals.kills} kills, ${totals.duplicated} orders delivered by two sidecars, ` +
    `${totals.lateOverlaps} sent while a former holder's call was still out`;
  process.stdout.write(`${line}\n`);
  if (args.breakRule) {
    const caught = sweep.failures[0];
    process.stdout.write(
      caught
        ? `broken rule ${args.breakRule} caught by ${caught.violation?.invariant} (first at seed ${caught.seed})\n`
        : `broken rule ${args.breakRule} NOT caught\n`,
    );
    return caught ? 0 : 1;
  }
  return sweep.failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
