/**
 * What tracing costs (issue 18): opaque-token issuance (bench/issuance.ts) with tracing off
 * (OTEL_SDK_DISABLED=true), sampling 10 % (parentbased_traceidratio 0.1) and sampling 100 %
 * (parentbased_always_on, the default), in one run: the modes alternate round by round so the
 * shared machine's drift falls on all three. Then the idle footprint of the four services with
 * tracing on and off: CPU seconds and median RSS over `--idle-seconds`, after a warm-up.
 * Spans go to the local Jaeger (scripts/services-up.sh), as they do on `npm start`.
 *
 *   npm run bench:tracing-cost -- [--rounds 3] [--requests 2000] [--concurrency 1,16] [--idle-seconds 60] [--json]
 *   (--rounds 0: the idle footprint only; --idle-seconds 0: issuance only)
 *
 * Figures are medians over rounds; ratios are each mode ÷ off. Progress on stderr.
 */
import { parseArgs } from 'node:util';

import type { ServiceName } from '../test/support/service-process';
import { loadServicesEnv } from '../test/support/services-env';
import { TestIdentity } from '../test/support/test-identity';

import { sampleProcess, USER_HZ } from './lib/process-sample';
import { runIssuance, type IssuanceCell } from './lib/issuance-run';
import { startQuietServices } from './lib/quiet-services';
import { num, table } from './lib/report';
import { median } from './lib/stats';

const MODES = {
  off: { OTEL_SDK_DISABLED: 'true' },
  'sampled 10%': { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  'sampled 100%': { OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
} as const;
type Mode = keyof typeof MODES;
const SERVICE_NAMES: ServiceName[] = ['issuer', 'revoker', 'distributor', 'auditor'];
const FIRST_PORT = 19126;

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '1,16' },
    'idle-seconds': { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'Usage: npm run bench:tracing-cost -- [--rounds 3] [--requests 2000] [--concurrency 1,16] [--idle-seconds 60] [--json]\n',
  );
  process.exit(0);
}
const rounds = Number(values.rounds);
const idleSeconds = Number(values['idle-seconds']);
const concurrencies = String(values.concurrency).split(',').map(Number);
const log = (message: string) => process.stderr.write(`[tracing-cost] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function environment(mode: Mode): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['OTEL_SDK_DISABLED', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG']) delete env[name];
  return { ...env, ...MODES[mode] };
}

type Cell = IssuanceCell;

const issuance = (mode: Mode): Cell[] =>
  runIssuance(environment(mode), { requests: String(values.requests), concurrency: String(values.concurrency), what: `tracing ${mode}` });

interface Idle {
  service: ServiceName;
  cpuSeconds: number;
  rssMiB: number;
}

/** The four services started with this mode's tracing, left idle: CPU over the window and median RSS. */
async function idleFootprint(mode: Mode, identity: TestIdentity): Promise<Idle[]> {
  // The services inherit this process's environment: its OTEL_* variables say the mode.
  for (const name of ['OTEL_SDK_DISABLED', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG']) delete process.env[name];
  Object.assign(process.env, MODES[mode]);
  const { services, stop } = await startQuietServices({
    identity,
    firstPort: FIRST_PORT,
    name: `bench-tracing-${mode.replace(/\W/g, '')}`,
    catalog: `
roles:
  - name: bench-idle
    owner: team-bench
    backend: { kind: opaque-token }
    bindings: [{ namespace: bench, serviceAccount: idle }]
    ttl: 1m
    maxTtl: 5m
`,
  });
  try {
    log(`${mode}: services ready; warming up 15 s, then ${idleSeconds} s idle`);
    await sleep(15_000);
    const first = services.map((service) => sampleProcess(service.pid!));
    const rss: number[][] = services.map(() => []);
    for (let second = 0; second < idleSeconds; second++) {
      await sleep(1_000);
      services.forEach((service, index) => rss[index]!.push(sampleProcess(service.pid!).rssKiB));
    }
    return services.map((service, index) => ({
      service: service.name,
      cpuSeconds: (sampleProcess(service.pid!).cpuTicks - first[index]!.cpuTicks) / USER_HZ,
      rssMiB: median(rss[index]!) / 1024,
    }));
  } finally {
    await stop();
  }
}

async function main(): Promise<void> {
  loadServicesEnv();
  const modes = Object.keys(MODES) as Mode[];
  const measured = Object.fromEntries(modes.map((mode) => [mode, [] as Cell[][]])) as Record<Mode, Cell[][]>;
  for (let round = 1; round <= rounds; round++) {
    // A different mode first in each round, so none always meets the machine first.
    const order = modes.map((_, index) => modes[(index + round - 1) % modes.length]!);
    for (const mode of order) {
      log(`round ${round}/${rounds}: issuance, tracing ${mode}`);
      measured[mode].push(issuance(mode));
    }
  }
  const idle: Partial<Record<Mode, Idle[]>> = {};
  if (idleSeconds > 0) {
    const identity = await TestIdentity.create();
    for (const mode of ['off', 'sampled 100%'] as const) idle[mode] = await idleFootprint(mode, identity);
  }

  const summary = concurrencies.map((concurrency) => {
    const pick = (mode: Mode, figure: keyof Omit<Cell, 'concurrency'>) =>
      median(measured[mode].map((cells) => cells.find((cell) => cell.concurrency === concurrency)?.[figure] ?? Number.NaN));
    const figures = Object.fromEntries(
      modes.map((mode) => [mode, { throughput: pick(mode, 'throughput'), p50: pick(mode, 'p50'), p99: pick(mode, 'p99') }]),
    ) as Record<Mode, Omit<Cell, 'concurrency'>>;
    return { concurrency, ...figures };
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ rounds, requests: Number(values.requests), summary, idleSeconds, idle }, null, 2)}\n`);
    return;
  }
  const issuanceTable =
    rounds === 0
      ? ''
      : `opaque-token issuance, median of ${rounds} round(s) per mode (${values.requests} requests each); ratios are ÷ off\n\n` +
        table(
          ['concurrency', 'tracing', 'req/s', '÷ off', 'p50 ms', 'p99 ms', 'p99 ÷ off'],
          summary.flatMap((row) =>
            modes.map((mode) => [
              String(row.concurrency),
              mode,
              num(row[mode].throughput),
              num(row[mode].throughput / row.off.throughput),
              num(row[mode].p50),
              num(row[mode].p99),
              num(row[mode].p99 / row.off.p99),
            ]),
          ),
        ) +
        '\n\n';
  const idleTable =
    idleSeconds === 0
      ? ''
      : `idle, ${idleSeconds} s after a 15 s warm-up (CPU seconds over the window, median RSS)\n\n` +
        table(
          ['service', 'CPU s, traced', 'CPU s, off', 'RSS MiB, traced', 'RSS MiB, off'],
          SERVICE_NAMES.map((service) => {
            const on = idle['sampled 100%']!.find((entry) => entry.service === service)!;
            const off = idle.off!.find((entry) => entry.service === service)!;
            return [service, num(on.cpuSeconds), num(off.cpuSeconds), num(on.rssMiB), num(off.rssMiB)];
          }),
        ) +
        '\n';
  process.stdout.write(issuanceTable + idleTable);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
