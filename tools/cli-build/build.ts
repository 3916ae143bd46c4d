/**
 * Builds the installable CLI: one self-contained file, runnable with plain `node` anywhere (no
 * monorepo, no node_modules), plus a package.json so npm can install or pack it:
 *
 *   node -r @swc-node/register tools/cli-build/build.ts [--out dist/cli]     (npm run build:cli)
 *   npm install -g ./dist/cli        # or: npm pack ./dist/cli
 *
 * esbuild bundles apps/cli/src/main.ts with every dependency (the `@rotor/*` aliases resolved from
 * tsconfig.base.json), so `audit replay` keeps Kafka, PostgreSQL and the GSM client. Two build-time
 * constants replace what a single file cannot find beside it: ROTOR_CLI_BUILD (apps/cli/src/version.ts)
 * and ROTOR_AUDIT_MIGRATIONS (libs/audit-store/src/audit-database.ts, for `--rebuild`).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { build } from 'esbuild';

const ROOT = resolve(__dirname, '..', '..');
/** The Node.js major the bundle is compiled for: the one package.json `engines` allows. */
const NODE_MAJOR = 24;

export interface CliBuild {
  dir: string;
  file: string;
  bytes: number;
  version: string;
  commit: string;
}

/** ROTOR_BUILD_COMMIT when set (an image build has no .git), else the checkout's HEAD. */
function gitCommit(): string {
  const given = process.env['ROTOR_BUILD_COMMIT']?.trim();
  if (given) return given;
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

function auditMigrations(): Record<string, string> {
  const dir = join(ROOT, 'libs', 'audit-store', 'migrations');
  const files = readdirSync(dir).filter((name) => name.endsWith('.sql'));
  if (files.length === 0) throw new Error(`no migrations in ${dir}`);
  return Object.fromEntries(files.sort().map((name) => [name, readFileSync(join(dir, name), 'utf8')]));
}

// Before anything else runs: on an older Node the bundle would fail somewhere less obvious.
const NODE_GUARD =
  `if (Number(process.versions.node.split('.')[0]) < ${NODE_MAJOR}) {` +
  ` process.stderr.write('rotor: needs Node.js ${NODE_MAJOR} or newer; this is ' + process.version + '\\n'); process.exit(1); }`;

export async function buildCli(out = join(ROOT, 'dist', 'cli')): Promise<CliBuild> {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const commit = gitCommit();
  const dir = resolve(out);
  const file = join(dir, 'rotor.js');
  mkdirSync(dir, { recursive: true });

  await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'apps', 'cli', 'src', 'main.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: `node${NODE_MAJOR}`,
    format: 'cjs',
    tsconfig: join(ROOT, 'tsconfig.base.json'),
    // Whitespace and syntax only: identifiers stay, so a stack trace from a user still reads.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'eof',
    // "use strict" first: after the guard, esbuild's own directive would no longer count as one.
    banner: { js: `#!/usr/bin/env node\n'use strict';\n${NODE_GUARD}` },
    define: {
      ROTOR_CLI_BUILD: JSON.stringify({ version, commit }),
      ROTOR_AUDIT_MIGRATIONS: JSON.stringify(auditMigrations()),
    },
    logLevel: 'warning',
  });
  chmodSync(file, 0o755);

  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify(
      {
        name: '@rotor/cli',
        version,
        description: "rotor's command line: sign in, leases, emergency rotation, break-glass, audit, inventory and posture",
        license: 'Apache-2.0',
        bin: { rotor: 'rotor.js' },
        files: ['rotor.js', 'README.md'],
        engines: { node: `>=${NODE_MAJOR}` },
        rotor: { commit },
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(dir, 'README.md'), readme(version, commit));
  return { dir, file, bytes: statSync(file).size, version, commit };
}

function readme(version: string, commit: string): string {
  return `# rotor CLI ${version} (${commit})

rotor's command line as one file with no dependencies: Node.js ${NODE_MAJOR} or newer is all it needs.

    npm install -g .          # from this directory; or: npm pack . and install the .tgz
    rotor --help
    rotor version

Sign in with \`rotor login\`, or give a token in ROTOR_TOKEN. The services' addresses come from
ROTOR_ISSUER_URL, ROTOR_REVOKER_URL, ROTOR_DISTRIBUTOR_URL and ROTOR_AUDITOR_URL, the CA to trust
from ROTOR_CA_FILE. \`--dev\` tokens need a rotor checkout (ROTOR_CHECKOUT). The full guide is
docs/operators.md in the rotor repository.
`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const started = performance.now();
  const built = await buildCli(values.out ? resolve(values.out) : undefined);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const size = (built.bytes / 1024 / 1024).toFixed(1);
  process.stdout.write(
    `build:cli: ${relative(process.cwd(), built.file) || built.file} (${size} MiB, ${built.version} ${built.commit}) in ${seconds}s\n`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`build:cli: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
