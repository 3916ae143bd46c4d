/**
 * Builds the workload agent (apps/agent) as one self-contained file, what the Dockerfile's `agent`
 * image runs: plain `node`, no node_modules beside it, no monorepo.
 *
 *   node -r @swc-node/register tools/agent-build/build.ts [--out dist/agent]     (npm run build:agent)
 *   node dist/agent/rotor-agent.js init --config /etc/rotor-agent/config.yaml
 *
 * The esbuild setup (aliases, target, Node.js guard) is the CLI's: tools/bundle/node-bundle.ts.
 */
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { bundleForNode, ROOT } from '../bundle/node-bundle';

export const AGENT_BUNDLE = 'rotor-agent.js';

export interface AgentBuild {
  file: string;
  bytes: number;
}

export async function buildAgent(out = join(ROOT, 'dist', 'agent')): Promise<AgentBuild> {
  const file = join(resolve(out), AGENT_BUNDLE);
  const bytes = await bundleForNode({ entry: join(ROOT, 'apps', 'agent', 'src', 'main.ts'), outfile: file, program: 'rotor-agent' });
  return { file, bytes };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const started = performance.now();
  const built = await buildAgent(values.out ? resolve(values.out) : undefined);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const size = (built.bytes / 1024 / 1024).toFixed(1);
  process.stdout.write(`build:agent: ${relative(process.cwd(), built.file) || built.file} (${size} MiB) in ${seconds}s\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`build:agent: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
