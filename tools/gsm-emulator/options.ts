/** How the emulator listens, and the quotas it simulates (0: unlimited). */
export interface EmulatorOptions {
  host: string;
  port: number;
  verbose: boolean;
  writesPerMinute: number;
  accessesPerMinute: number;
  readsPerMinute: number;
  versionWritesPerSecondPerSecret: number;
}

type LimitKey = 'writesPerMinute' | 'accessesPerMinute' | 'readsPerMinute' | 'versionWritesPerSecondPerSecret';

/** [option key, flag, environment variable] of every quota limit. */
const LIMIT_OPTIONS: readonly (readonly [LimitKey, string, string])[] = [
  ['writesPerMinute', '--writes-per-minute', 'GSM_EMULATOR_WRITES_PER_MINUTE'],
  ['accessesPerMinute', '--accesses-per-minute', 'GSM_EMULATOR_ACCESSES_PER_MINUTE'],
  ['readsPerMinute', '--reads-per-minute', 'GSM_EMULATOR_READS_PER_MINUTE'],
  ['versionWritesPerSecondPerSecret', '--version-writes-per-second-per-secret', 'GSM_EMULATOR_VERSION_WRITES_PER_SECOND_PER_SECRET'],
];

export const USAGE =
  'usage: tools/gsm-emulator/main.ts [--host 127.0.0.1] [--port 9090] [--verbose]\n' +
  '         [--writes-per-minute N] [--accesses-per-minute N] [--reads-per-minute N]\n' +
  '         [--version-writes-per-second-per-secret N]   (limits: unset or 0 = unlimited)';

/** Unset, empty or 0: unlimited (0 is returned as 0 and means "no limit"). */
function parseLimit(value: string | undefined, what: string): number {
  if (value === undefined || value === '') return 0;
  if (!/^[0-9]+$/.test(value)) throw new Error(`${what}: expected a whole number >= 0, got "${value}"`);
  return Number(value);
}

/** Flags win over their environment variables. Returns 'help' for --help. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): EmulatorOptions | 'help' {
  const opts: EmulatorOptions = {
    host: env.GSM_EMULATOR_HOST || '127.0.0.1',
    port: Number(env.GSM_EMULATOR_PORT || 9090),
    verbose: false,
    writesPerMinute: 0,
    accessesPerMinute: 0,
    readsPerMinute: 0,
    versionWritesPerSecondPerSecret: 0,
  };
  for (const [key, , variable] of LIMIT_OPTIONS) opts[key] = parseLimit(env[variable], variable);
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    const next = (): string => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      i += 1;
      return argv[i]!;
    };
    if (a === '--host') opts.host = next();
    else if (a.startsWith('--host=')) opts.host = a.slice(7);
    else if (a === '--port') opts.port = Number(next());
    else if (a.startsWith('--port=')) opts.port = Number(a.slice(7));
    else if (a === '--verbose' || a === '-v') opts.verbose = true;
    else if (a === '--help' || a === '-h') return 'help';
    else {
      const limit = LIMIT_OPTIONS.find(([, flag]) => a === flag || a.startsWith(`${flag}=`));
      if (!limit) throw new Error(`unknown argument ${a}`);
      const [key, flag] = limit;
      opts[key] = parseLimit(a === flag ? next() : a.slice(flag.length + 1), flag);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error(`invalid port ${opts.port}`);
  return opts;
}
