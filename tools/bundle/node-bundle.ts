/**
 * What the self-contained bundles have in common (tools/cli-build, tools/agent-build): one
 * CommonJS file for plain `node`, every dependency inside, the `@rotor/*` aliases resolved from
 * tsconfig.base.json, a shebang, and a guard that refuses an older Node.js with one clear line.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { build } from 'esbuild';

export const ROOT = resolve(__dirname, '..', '..');
/** The Node.js major the bundles are compiled for: the one package.json `engines` allows. */
export const NODE_MAJOR = 24;

/** ROTOR_BUILD_COMMIT when set (an image build has no .git), else the checkout's HEAD. */
export function gitCommit(): string {
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

export interface NodeBundleOptions {
  /** The TypeScript entry point, e.g. apps/cli/src/main.ts. */
  entry: string;
  /** The bundle written, made executable. */
  outfile: string;
  /** The name the Node.js guard's message starts with. */
  program: string;
  /** Build-time constants (esbuild `define`), each a JSON text. */
  define?: Record<string, string>;
}

/** Writes the bundle; its size in bytes. */
export async function bundleForNode({ entry, outfile, program, define }: NodeBundleOptions): Promise<number> {
  mkdirSync(dirname(outfile), { recursive: true });
  // Before anything else runs: on an older Node the bundle would fail somewhere less obvious.
  const guard =
    `if (Number(process.versions.node.split('.')[0]) < ${NODE_MAJOR}) {` +
    ` process.stderr.write('${program}: needs Node.js ${NODE_MAJOR} or newer; this is ' + process.version + '\\n'); process.exit(1); }`;
  await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    outfile,
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
    banner: { js: `#!/usr/bin/env node\n'use strict';\n${guard}` },
    ...(define ? { define } : {}),
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
  return statSync(outfile).size;
}
