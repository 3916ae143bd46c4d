import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Set by the bundled build (tools/cli-build): the package version and the commit it was built from. */
declare const ROTOR_CLI_BUILD: { version: string; commit: string } | undefined;

export interface CliVersion {
  version: string;
  /** The commit the bundle was built from; `source` when run from the monorepo. */
  commit: string;
  node: string;
}

export function cliVersion(): CliVersion {
  const node = process.versions.node;
  if (typeof ROTOR_CLI_BUILD !== 'undefined') return { ...ROTOR_CLI_BUILD, node };
  // From the monorepo (sources, or the services' dist/): the nearest package.json above that is rotor's.
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (manifest.name === 'rotor' && manifest.version) return { version: manifest.version, commit: 'source', node };
  }
  return { version: 'unknown', commit: 'source', node };
}
