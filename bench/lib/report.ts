import type { RunResult } from './closed-loop';
import { spread, type Spread } from './stats';

export interface Aggregate {
  runs: number;
  requests: number;
  ok: number;
  failed: number;
  throughput: Spread;
  p50: Spread;
  p95: Spread;
  p99: Spread;
  /** Per-step p50 (median across runs), for the baseline. */
  stepsP50: Record<string, Spread>;
  errors: Record<string, number>;
}

export function aggregate(runs: readonly RunResult[]): Aggregate {
  const errors: Record<string, number> = {};
  for (const run of runs) for (const [error, count] of Object.entries(run.errors)) errors[error] = (errors[error] ?? 0) + count;
  const stepNames = [...new Set(runs.flatMap((run) => Object.keys(run.stepsMs)))];
  return {
    runs: runs.length,
    requests: runs.reduce((sum, run) => sum + run.requests, 0),
    ok: runs.reduce((sum, run) => sum + run.ok, 0),
    failed: runs.reduce((sum, run) => sum + run.failed, 0),
    throughput: spread(runs.map((run) => run.throughput)),
    p50: spread(runs.map((run) => run.latencyMs.p50)),
    p95: spread(runs.map((run) => run.latencyMs.p95)),
    p99: spread(runs.map((run) => run.latencyMs.p99)),
    stepsP50: Object.fromEntries(stepNames.map((step) => [step, spread(runs.map((run) => run.stepsMs[step]?.p50 ?? Number.NaN))])),
    errors,
  };
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
/** Three significant-ish digits: 0.412, 4.12, 41.2, 412. */
export const num = (value: number): string => {
  if (!Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  return fixed(value, abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
};
export const withSpread = (s: Spread): string => (Number.isFinite(s.median) ? `${num(s.median)} (${num(s.min)}–${num(s.max)})` : '-');

/** A plain text table; numbers right-aligned, text left-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const numeric = header.map((_h, i) => rows.every((row) => /^[-\d.,x×/ ()–%]*$/.test(row[i] ?? '')));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
