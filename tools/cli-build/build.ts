/**
 * Builds the installable CLI: one self-contained file, runnable with plain `node` anywhere (no
 * monorepo, no node_modules), plus a package.json so npm can install or pack it:
 *
 *   node -r @swc-node/register tools/cli-build/build.ts [--out dist/cli]     (npm run build:cli)
 *   npm install -g ./dist/cli        # or: npm pack ./dist/cli
 *
 * esbuild bundles apps/cli/src/main.ts with every dependency (tools/bundle/node-bundle.ts, which the
 * agent's bundle shares), so `audit replay` keeps Kafka, PostgreSQL and the GSM client. Two build-time
 * constants replace what a single file cannot find beside it: ROTOR_CLI_BUILD (apps/cli/src/version.ts)
 * and ROTOR_AUDIT_MIGRATIONS (libs/audit-store/src/audit-database.ts, for `--rebuild`).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { bundleForNode, gitCommit, NODE_MAJOR, ROOT } from '../bundle/node-bundle';

export interface CliBuild {
  dir: string;
  file: string;
  bytes: number;
  version: string;
  commit: string;
}

function auditMigrations(): Record<string, string> {
  const dir = join(ROOT, 'libs', 'audit-store', 'migrations');
  const files = readdirSync(dir).filter((name) => name.endsWith('.sql'));
  if (files.length === 0) throw new Error(`no migrations in ${dir}`);
  return Object.fromEntries(files.sort().map((name) => [name, readFileSync(join(dir, name), 'utf8')]));
}

export async function buildCli(out = join(ROOT, 'dist', 'cli')): Promise<CliBuild> {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const commit = gitCommit();
  const dir = resolve(out);
  const file = join(dir, 'rotor.js');
  mkdirSync(dir, { recursive: true });

  const bytes = await bundleForNode({
    entry: join(ROOT, 'apps', 'cli', 'src', 'main.ts'),
    outfile: file,
    program: 'rotor',
    define: {
      ROTOR_CLI_BUILD: JSON.stringify({ version, commit }),
      ROTOR_AUDIT_MIGRATIONS: JSON.stringify(auditMigrations()),
    },
  });

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
  return { dir, file, bytes, version, commit };
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
