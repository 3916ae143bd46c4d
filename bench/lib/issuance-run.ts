import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** One concurrency's figures of a bench/issuance.ts run (the issuer side, median of its runs). */
export interface IssuanceCell {
  concurrency: number;
  throughput: number;
  p50: number;
  p99: number;
}

/**
 * Runs bench/issuance.ts once as a child process (opaque tokens, one run per concurrency) with
 * `env`, and reads its --json report: the comparison benches (tls-cost, tracing-cost) change
 * only the environment between runs.
 */
export function runIssuance(env: NodeJS.ProcessEnv, options: { requests: string; concurrency: string; what: string }): IssuanceCell[] {
  const result = spawnSync(
    process.execPath,
    [
      '-r',
      '@swc-node/register',
      join(ROOT, 'bench', 'issuance.ts'),
      '--json',
      '--backends',
      'opaque',
      '--runs',
      '1',
      '--requests',
      options.requests,
      '--concurrency',
      options.concurrency,
    ],
    { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 },
  );
  if (result.status !== 0) throw new Error(`bench/issuance.ts (${options.what}) exited ${result.status}`);
  const report = JSON.parse(result.stdout) as {
    results: { concurrency: number; issuer: { throughput: { median: number }; p50: { median: number }; p99: { median: number } } }[];
  };
  return report.results.map((cell) => ({
    concurrency: cell.concurrency,
    throughput: cell.issuer.throughput.median,
    p50: cell.issuer.p50.median,
    p99: cell.issuer.p99.median,
  }));
}
