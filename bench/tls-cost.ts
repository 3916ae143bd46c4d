/**
 * What the secure stack costs: opaque-token issuance (bench/issuance.ts) on the secure stack
 * (HTTPS, Kafka SASL_SSL with ACLs, Redis TLS with ACL users) next to the same run on the
 * explicitly insecure one (ROTOR_INSECURE_LOCAL=1), in one run. The modes alternate
 * (secure, insecure, secure, insecure, ...) so that drift of the shared machine falls on both;
 * each switch restarts the backing services in the other mode (scripts/services-up.sh keeps
 * their data). Figures are medians over rounds; the ratio is insecure ÷ secure.
 *
 *   npm run bench:tls-cost -- [--rounds 2] [--requests 1500] [--concurrency 1,16,64] [--json]
 *
 * It ends on the secure stack, whatever happens. Progress on stderr.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { runIssuance, type IssuanceCell } from './lib/issuance-run';
import { num, table } from './lib/report';
import { median } from './lib/stats';

const ROOT = join(__dirname, '..');
type Mode = 'secure' | 'insecure';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    requests: { type: 'string', default: '1500' },
    concurrency: { type: 'string', default: '1,16,64' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write('Usage: npm run bench:tls-cost -- [--rounds 2] [--requests 1500] [--concurrency 1,16,64] [--json]\n');
  process.exit(0);
}
const rounds = Number(values.rounds);
const log = (message: string) => process.stderr.write(`[tls-cost] ${message}\n`);

/** The environment without anything a previous mode's .rotor/env put there. */
function cleanEnv(mode: Mode): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(KAFKA_|REDIS_|DATABASE_URL|ROTOR_|NODE_EXTRA_CA_CERTS|SECRET_MANAGER_|GSM_PROJECT)/.test(name)) continue;
    env[name] = value;
  }
  if (mode === 'insecure') env['ROTOR_INSECURE_LOCAL'] = '1';
  return env;
}

function switchTo(mode: Mode): void {
  log(`backing services → ${mode}`);
  const started = Date.now();
  const result = spawnSync('bash', [join(ROOT, 'scripts', 'services-up.sh')], { env: cleanEnv(mode), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`services-up (${mode}) failed:\n${result.stdout}\n${result.stderr}`);
  log(`backing services are ${mode} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

type Cell = IssuanceCell;

function issuance(mode: Mode): Cell[] {
  log(`issuance on the ${mode} stack…`);
  const env = cleanEnv(mode);
  delete env['ROTOR_INSECURE_LOCAL']; // .rotor/env of that mode says it
  return runIssuance(env, { requests: String(values.requests), concurrency: String(values.concurrency), what: mode });
}

function main(): void {
  const measured: Record<Mode, Cell[][]> = { secure: [], insecure: [] };
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const mode of ['secure', 'insecure'] as const) {
        log(`round ${round}/${rounds}: ${mode}`);
        switchTo(mode);
        measured[mode].push(issuance(mode));
      }
    }
  } finally {
    switchTo('secure');
  }
  const concurrencies = String(values.concurrency).split(',').map(Number);
  const summary = concurrencies.map((concurrency) => {
    const pick = (mode: Mode, figure: keyof Omit<Cell, 'concurrency'>) =>
      median(measured[mode].map((cells) => cells.find((cell) => cell.concurrency === concurrency)?.[figure] ?? Number.NaN));
    const secure = { throughput: pick('secure', 'throughput'), p50: pick('secure', 'p50'), p99: pick('secure', 'p99') };
    const insecure = { throughput: pick('insecure', 'throughput'), p50: pick('insecure', 'p50'), p99: pick('insecure', 'p99') };
    return {
      concurrency,
      secure,
      insecure,
      secureOverInsecure: { throughput: secure.throughput / insecure.throughput, p99: secure.p99 / insecure.p99 },
    };
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ rounds, requests: Number(values.requests), summary }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `opaque-token issuance, median of ${rounds} round(s) per mode (${values.requests} requests each)\n\n` +
      table(
        ['concurrency', 'secure req/s', 'insecure req/s', 'secure ÷ insecure', 'secure p99 ms', 'insecure p99 ms', 'p99 ratio'],
        summary.map((row) => [
          String(row.concurrency),
          num(row.secure.throughput),
          num(row.insecure.throughput),
          num(row.secureOverInsecure.throughput),
          num(row.secure.p99),
          num(row.insecure.p99),
          num(row.secureOverInsecure.p99),
        ]),
      ) +
      '\n',
  );
}

main();
