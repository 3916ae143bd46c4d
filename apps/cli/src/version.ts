import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
  // From the monorepo: the root package's version.
  const root = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return { version: root.version, commit: 'source', node };
}
