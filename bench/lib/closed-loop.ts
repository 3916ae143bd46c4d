import { performance } from 'node:perf_hooks';

import { summarizeLatencies, type LatencySummary } from './stats';

/** What one operation reports: success (optionally with the time of each of its steps) or why it failed. */
export type Outcome = { ok: true; stepsMs?: Record<string, number> } | { ok: false; error: string };

export interface RunResult {
  requests: number;
  ok: number;
  failed: number;
  elapsedMs: number;
  /** Successful operations per second of wall time. */
  throughput: number;
  /** Latency of the successful operations. */
  latencyMs: LatencySummary;
  /** Per-step latency of the successful operations, for operations that report steps. */
  stepsMs: Record<string, LatencySummary>;
  /** Failure reason → count. */
  errors: Record<string, number>;
}

export interface ClosedLoopOptions {
  total: number;
  concurrency: number;
  op: (index: number) => Promise<Outcome>;
  /** Called as operations complete (the caller throttles its output). */
  onProgress?: (done: number, total: number) => void;
  /** Checked before each new operation: true stops the run early (Ctrl-C). */
  shouldStop?: () => boolean;
}

/**
 * A closed loop: `concurrency` workers, each starting its next operation as soon as the
 * previous one ends, until `total` operations have been started.
 */
export async function closedLoop({ total, concurrency, op, onProgress, shouldStop }: ClosedLoopOptions): Promise<RunResult> {
  const latencies: number[] = [];
  const steps = new Map<string, number[]>();
  const errors: Record<string, number> = {};
  let next = 0;
  let done = 0;
  let failed = 0;

  const worker = async () => {
    while (next < total && !shouldStop?.()) {
      const index = next++;
      const started = performance.now();
      let outcome: Outcome;
      try {
        outcome = await op(index);
      } catch (error) {
        outcome = { ok: false, error: describeError(error) };
      }
      const elapsed = performance.now() - started;
      if (outcome.ok) {
        latencies.push(elapsed);
        for (const [step, ms] of Object.entries(outcome.stepsMs ?? {})) {
          let list = steps.get(step);
          if (!list) steps.set(step, (list = []));
          list.push(ms);
        }
      } else {
        failed++;
        errors[outcome.error] = (errors[outcome.error] ?? 0) + 1;
      }
      done++;
      onProgress?.(done, total);
    }
  };

  const started = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, total)) }, worker));
  const elapsedMs = performance.now() - started;
  return {
    requests: done,
    ok: latencies.length,
    failed,
    elapsedMs,
    throughput: latencies.length / (elapsedMs / 1000),
    latencyMs: summarizeLatencies(latencies),
    stepsMs: Object.fromEntries([...steps].map(([step, values]) => [step, summarizeLatencies(values)])),
    errors,
  };
}

/** A short, stable description of a thrown error (network errors from fetch carry their cause). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? `: ${(cause as { code?: string }).code ?? cause.message}` : '';
  return `${error.name}: ${error.message}${causeText}`.slice(0, 300);
}
