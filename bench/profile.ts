/**
 * Where a service's CPU goes: reads V8 CPU profiles (`node --cpu-prof`, as `bench:lifecycle
 * --cpu-prof <dir>` writes them) and prints self time by owner (a rotor lib or app, an npm
 * package, Node's own code, GC) and the hottest functions.
 *
 *   npm run bench:profile -- <file.cpuprofile>... [--top 25] [--json]
 *
 * Idle time is left out of the shares: they are of the time the process was on the CPU.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

import { num, table } from './lib/report';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } },
});

/** Who owns a frame: `lib:kafka`, `app:issuer`, `npm:kafkajs`, `node`, or V8's (program), (garbage collector). */
function ownerOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : 'native';
  const inModules = url.lastIndexOf('/node_modules/');
  if (inModules >= 0) {
    const rest = url.slice(inModules + '/node_modules/'.length).split('/');
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const rotor = /\/(apps|libs)\/([^/]+)\//.exec(url);
  if (rotor) return `${rotor[1] === 'apps' ? 'app' : 'lib'}:${rotor[2]}`;
  if (url.startsWith('node:') || !url.includes('/')) return 'node';
  return 'other';
}

function summarize(file: string) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // Node's and V8's own time (socket writes, TLS, JSON) charged to the package or lib that called it.
  const causeOf = (id: number): string => {
    for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) {
      const { url, functionName } = byId.get(current)!.callFrame;
      const owner = ownerOf(url, functionName);
      if (owner.startsWith('npm:') || owner.startsWith('lib:') || owner.startsWith('app:')) return owner;
    }
    return ownerOf(byId.get(id)!.callFrame.url, byId.get(id)!.callFrame.functionName);
  };
  const causes = new Map<string, number>();
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  let service = '?';
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id)!;
    const app = /\/apps\/([^/]+)\//.exec(callFrame.url);
    if (app && !callFrame.url.includes('/node_modules/')) service = app[1]!;
    if (callFrame.functionName === '(idle)') continue;
    busy += us;
    const owner = ownerOf(callFrame.url, callFrame.functionName);
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const cause = causeOf(id);
    causes.set(cause, (causes.get(cause) ?? 0) + us);
    const where = callFrame.url ? `${basename(callFrame.url)}:${callFrame.lineNumber + 1}` : '';
    const name = `${callFrame.functionName || '(anonymous)'} ${where} [${owner}]`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
  return {
    file,
    service,
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busy / 1000,
    owners: sorted(owners),
    causes: sorted(causes),
    functions: sorted(functions),
  };
}

const top = Number(values.top);
const summaries = positionals.map(summarize);
if (values.json) {
  process.stdout.write(`${JSON.stringify(summaries, null, 2)}\n`);
} else {
  for (const summary of summaries) {
    process.stdout.write(
      `\n${summary.service} (${basename(summary.file)}): ${num(summary.busyMs)} ms on CPU over ${num(summary.wallMs)} ms\n\n` +
        table(
          ['owner', 'self ms', 'share'],
          summary.owners.slice(0, top).map(([owner, us]) => [owner, num(us / 1000), `${num((100 * us) / 1000 / summary.busyMs)} %`]),
        ) +
        '\n' +
        table(
          ['caller (Node and V8 time charged to it)', 'ms', 'share'],
          summary.causes.slice(0, top).map(([owner, us]) => [owner, num(us / 1000), `${num((100 * us) / 1000 / summary.busyMs)} %`]),
        ) +
        '\n' +
        table(
          ['function', 'self ms', 'share'],
          summary.functions.slice(0, top).map(([name, us]) => [name, num(us / 1000), `${num((100 * us) / 1000 / summary.busyMs)} %`]),
        ) +
        '\n',
    );
  }
}
