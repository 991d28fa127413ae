/**
 * Measured figures of the fault suite. Each scenario file writes its own JSON file under
 * `.cache/faults/` (one file per scenario, so that parallel workers never write the same file), then
 * re-renders `docs/reliability.md` from every JSON file present: after a full `pnpm test:faults`, the
 * document holds the figures of that run (each section says when it was measured).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './sidecar-process';

export const FIGURES_DIR = path.join(REPO_ROOT, '.cache', 'faults');
export const RELIABILITY_DOC = path.join(REPO_ROOT, 'docs', 'reliability.md');

export interface CaseFigures {
  case: string;
  /** Orders (or requests, see `unit`) submitted. */
  submitted?: number;
  delivered?: number;
  /** Orders the Management API stub accepted more than once. */
  duplicated?: number;
  /** Orders accepted by the API and never delivered nor failed with a reason. */
  lost?: number;
  /** Orders failed with a reason (expired, refused …). */
  failed?: number;
  /** Requests refused (hostile input). */
  refused?: number;
  /** Documents written by refused requests (orders and request-index documents). */
  written?: number;
  /** Milliseconds from the end of the fault to the first sign of normal service. */
  recoveredMs?: number;
  notes?: string;
}

export interface ScenarioFigures {
  /** File name of the JSON, and the section order (e.g. `1-kill`). */
  id: string;
  title: string;
  /** How the scenario is set up and what its columns mean there. */
  description: string;
  /** What the rows count when not orders (e.g. `requests`). */
  unit?: string;
  measuredAt: string;
  durationMs: number;
  cases: CaseFigures[];
  /** Observations worth reading (bugs found, behaviour seen). */
  observations: string[];
}

/** Collects one scenario's figures; `save()` writes its JSON and re-renders the document. */
export class FigureBook {
  private readonly started = Date.now();
  readonly cases: CaseFigures[] = [];
  readonly observations: string[] = [];

  constructor(
    private readonly id: string,
    private readonly title: string,
    private readonly description: string,
    private readonly unit?: string,
  ) {}

  add(figures: CaseFigures): void {
    this.cases.push(figures);
  }

  observe(text: string): void {
    this.observations.push(text);
  }

  save(): void {
    const data: ScenarioFigures = {
      id: this.id,
      title: this.title,
      description: this.description,
      ...(this.unit !== undefined && { unit: this.unit }),
      measuredAt: new Date().toISOString(),
      durationMs: Date.now() - this.started,
      cases: this.cases,
      observations: this.observations,
    };
    mkdirSync(FIGURES_DIR, { recursive: true });
    writeAtomically(path.join(FIGURES_DIR, `${this.id}.json`), `${JSON.stringify(data, null, 2)}\n`);
    renderReliability();
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function cell(v: number | string | undefined): string {
  return v === undefined ? '—' : String(v);
}

function seconds(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : `${(ms / 1000).toFixed(1)} s`;
}

/** A table laid out as Prettier lays it out (padded cells), so that the generated file passes format:check. */
function markdownTable(header: string[], align: Array<'left' | 'right'>, rows: string[][]): string[] {
  const esc = (t: string): string => t.replace(/\|/g, '\\|');
  const all = [header, ...rows].map((r) => r.map(esc));
  const width = header.map((_, i) => Math.max(3, ...all.map((r) => [...(r[i] ?? '')].length)));
  const pad = (t: string, i: number): string => {
    const fill = ' '.repeat((width[i] ?? 0) - [...t].length);
    return align[i] === 'right' ? fill + t : t + fill;
  };
  const line = (r: string[]): string => `| ${r.map(pad).join(' | ')} |`;
  const rule = `| ${width.map((w, i) => (align[i] === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(all[0] ?? []), rule, ...all.slice(1).map(line)];
}

const COLUMNS: ReadonlyArray<{ key: keyof CaseFigures; title: string }> = [
  { key: 'submitted', title: 'submitted' },
  { key: 'delivered', title: 'delivered' },
  { key: 'duplicated', title: 'duplicated' },
  { key: 'lost', title: 'lost' },
  { key: 'failed', title: 'failed' },
  { key: 'refused', title: 'refused' },
  { key: 'written', title: 'written' },
  { key: 'recoveredMs', title: 'recovered' },
];

/** Renders `docs/reliability.md` from every scenario JSON under `.cache/faults/`. */
export function renderReliability(): void {
  let files: string[] = [];
  try {
    files = readdirSync(FIGURES_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    files = [];
  }
  const scenarios = files
    .map((f) => JSON.parse(readFileSync(path.join(FIGURES_DIR, f), 'utf8')) as ScenarioFigures)
    .sort((a, b) => a.id.localeCompare(b.id));
  const lines: string[] = [
    '# Reliability: what the fault suite measured',
    '',
    '<!-- Generated by the fault suite (packages/sidecar/test/faults/support/figures.ts); do not edit by hand. -->',
    '',
    'Produced by `pnpm test:faults` (jest project `faults`, files `packages/sidecar/test/faults/*.fault.test.ts`):',
    'real sidecar processes (`packages/sidecar/src/main.ts serve`, configured by environment variables), a real',
    "OpenSearch (the run's node; the OpenSearch restart scenario starts a node of its own with",
    '`scripts/opensearch`), and the reference Management API of `examples/management-api` behind a',
    'fault-injecting proxy that also counts how often the stub saw and accepted each order. Each test writes',
    'its figures to `.cache/faults/<scenario>.json`; the document is re-rendered from those files at the end',
    "of every scenario file, so after a full run it holds that run's figures.",
    '',
    'Columns: **submitted** orders (or the unit named), **delivered** (accepted by the Management API stub at',
    'least once), **duplicated** (accepted more than once), **lost** (accepted by the command manager and',
    'neither delivered nor failed with a reason), **failed** (ended in `failure` with a reason), **recovered**',
    '(from the end of the fault to the first sign of normal service: delivery resumed, 201 answers again);',
    'for hostile input, **refused** requests and documents **written** by them.',
    '',
    `Machine of the last render: ${os.cpus().length} CPU(s), Node ${process.version}.`,
    '',
  ];
  const bugs = scenarios.flatMap((s) => s.observations.filter((o) => o.startsWith('BUG')));
  if (bugs.length > 0) {
    lines.push(
      '## Product bugs found',
      '',
      'Each is pinned by a `test.failing` in the suite (it passes while the bug is there, and fails once it is',
      'fixed, so that the marker is then removed):',
      '',
    );
    for (const b of bugs) lines.push(`- ${b}`);
    lines.push('');
  }
  for (const s of scenarios) {
    lines.push(`## ${s.title}`, '', s.description ?? '', '');
    lines.push(
      `Measured ${s.measuredAt} in ${(s.durationMs / 1000).toFixed(0)} s.` +
        (s.unit ? ` Counts are ${s.unit} unless a case says otherwise.` : ''),
      '',
    );
    // Only the columns some case of this scenario fills.
    const columns = COLUMNS.filter((col) => s.cases.some((c) => c[col.key] !== undefined));
    const rows = s.cases.map((c) => [
      c.case,
      ...columns.map((col) =>
        cell(col.key === 'recoveredMs' ? seconds(c.recoveredMs) : (c[col.key] as number | undefined)),
      ),
      c.notes ?? '',
    ]);
    lines.push(
      ...markdownTable(
        ['case', ...columns.map((c) => c.title), 'notes'],
        ['left', ...columns.map(() => 'right' as const), 'left'],
        rows,
      ),
    );
    lines.push('');
    // Bugs are listed once, at the top.
    const notes = s.observations.filter((o) => !o.startsWith('BUG'));
    if (notes.length > 0) {
      lines.push('Observations:', '');
      for (const o of notes) lines.push(`- ${o}`);
      lines.push('');
    }
  }
  if (scenarios.length === 0) lines.push('No scenario has run yet: run `pnpm test:faults`.', '');
  mkdirSync(path.dirname(RELIABILITY_DOC), { recursive: true });
  writeAtomically(RELIABILITY_DOC, lines.join('\n'));
}
