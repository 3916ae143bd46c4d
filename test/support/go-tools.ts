/**
 * The Go tools scripts/go-tools.sh builds once per machine into .rotor/cache/go-tools/bin
 * (`npm test` builds them first). A spec that needs one fails without it: never skipped.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

const repoRoot = join(__dirname, '..', '..');

export type GoTool = 'jaeger' | 'promtool';

/** The built binary's path; throws, naming the command that builds it, when it is missing. */
export function goToolPath(name: GoTool): string {
  const path = join(repoRoot, '.rotor', 'cache', 'go-tools', 'bin', name);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`${name} is not built (${path}): run \`bash scripts/go-tools.sh ${name}\` first`);
  }
  return path;
}
