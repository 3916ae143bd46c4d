/**
 * Every place rotor logs, fed a canary secret. The call sites are found in the source (any
 * `…logger.<level>(` or `…logger.child(`, one-line or not), each site's context is rebuilt with
 * its own field names, and every field is given what a mistake would put there: secret-shaped
 * fields hold the canary directly, the others hold structures with the canary under
 * secret-shaped names up to six levels deep, in arrays, errors and connection strings. The
 * serialized line must never contain it. A new call site is covered without editing this test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';

import { createLogger, isSecretField } from '@rotor/telemetry';

const repoRoot = join(__dirname, '..', '..');
const CANARY = 'canary-5e1f0c';
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

interface CallSite {
  where: string;
  method: Level | 'child';
  /** Field names of the context object; undefined when the first argument is not an object literal. */
  fields?: string[];
  /** The context spreads something (`...extra`) or is a variable: anything may be in it. */
  opaque: boolean;
}

/** `logger.info(`, `this.logger?.warn(`, `context.logger.child(`, and `logger[level](` (logged at info here). */
const CALL = /\b[\w$]*logger\??(?:\.(fatal|error|warn|info|debug|trace|child)|\[(?:[^[\]\n]|\[[^\]\n]*\])+\])\(/gi;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !/\.(spec|int-spec|e2e-spec|d)\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** The text of the balanced `{…}` starting at `start`, skipping strings and template literals. */
function objectLiteral(text: string, start: number): string {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const char = text[i]!;
    if (char === "'" || char === '"' || char === '`') {
      for (i++; i < text.length && text[i] !== char; i++) if (text[i] === '\\') i++;
    } else if (char === '{' || char === '(' || char === '[') depth++;
    else if (char === '}' || char === ')' || char === ']') {
      depth--;
      if (depth === 0) return text.slice(start + 1, i);
    }
  }
  throw new Error('unbalanced object literal');
}

/** Top-level `key: …`, shorthand `key` and `...spread` members of an object literal's body. */
function members(body: string): { fields: string[]; spreads: boolean } {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < body.length; i++) {
    const char = body[i]!;
    if (char === "'" || char === '"' || char === '`') {
      const open = i;
      for (i++; i < body.length && body[i] !== char; i++) if (body[i] === '\\') i++;
      current += body.slice(open, i + 1);
      continue;
    }
    if ('{(['.includes(char)) depth++;
    if ('})]'.includes(char)) depth--;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  const fields: string[] = [];
  let spreads = false;
  for (const part of parts.map((p) => p.trim()).filter(Boolean)) {
    if (part.startsWith('...')) spreads = true;
    else fields.push(/^['"]?([\w$-]+)['"]?\s*(:|$)/.exec(part)?.[1] ?? part);
  }
  return { fields, spreads };
}

function callSites(): CallSite[] {
  const sites: CallSite[] = [];
  for (const file of ['apps', 'libs', 'tools'].flatMap((dir) => sourceFiles(join(repoRoot, dir)))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(CALL)) {
      const method = (match[1]?.toLowerCase() ?? 'info') as CallSite['method'];
      const argStart = match.index + match[0].length;
      const firstArg = /^\s*/.exec(text.slice(argStart))![0].length + argStart;
      const where = `${relative(repoRoot, file)}:${text.slice(0, match.index).split('\n').length}`;
      if (text[firstArg] === '{') {
        const { fields, spreads } = members(objectLiteral(text, firstArg));
        sites.push({ where, method, fields, opaque: spreads });
      } else {
        // A message only (a string), or a variable holding the context.
        sites.push({ where, method, opaque: !/^['"`]/.test(text[firstArg]!) });
      }
    }
  }
  return sites;
}

/** What a careless caller could pass in a field that is not itself secret-shaped. */
function nestedCanaries(): unknown {
  const error = Object.assign(new Error(`connect to postgres://admin:${CANARY}@db/rotor failed`), {
    config: { sasl: { mechanism: 'scram-sha-512', password: CANARY } },
  });
  return {
    id: 'kept',
    credential: { token: CANARY },
    url: `rediss://rotor:${CANARY}@redis:6379`,
    headers: { Authorization: `Bearer ${CANARY}` },
    body: Buffer.from(CANARY),
    error,
    l1: [{ l2: { l3: [{ l4: { l5: { l6: { password: CANARY, clientSecret: CANARY, apiKey: CANARY, value: CANARY } } } }] } }],
  };
}

function contextFor(site: CallSite): Record<string, unknown> {
  const context: Record<string, unknown> = {};
  for (const field of site.fields ?? []) context[field] = isSecretField(field) ? CANARY : nestedCanaries();
  if (site.opaque) Object.assign(context, { password: CANARY, databaseUrl: `postgres://u:${CANARY}@h/db`, extra: nestedCanaries() });
  return context;
}

describe('every log call site, fed a canary secret', () => {
  const sites = callSites();

  it('finds the call sites (the services, libs and the kafkajs and Nest adapters)', () => {
    expect(sites.length).toBeGreaterThanOrEqual(50);
    expect(sites.some((site) => site.where.startsWith('libs/kafka/src/kafka-connection.ts') && site.opaque)).toBe(true);
    expect(sites.some((site) => site.where.startsWith('libs/service-kit/src/nest-logger.ts'))).toBe(true);
    expect(sites.filter((site) => site.method === 'child').length).toBeGreaterThanOrEqual(3);
  });

  it.each(sites.map((site) => [site.where, site] as const))('%s never writes the canary', (_where, site) => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ service: 'canary', level: 'trace', destination });
    const context = contextFor(site);
    if (site.method === 'child') logger.child(context).info('child line');
    else if (site.fields || site.opaque) logger[site.method](context, `message from ${site.where}`);
    else logger[site.method](`message from ${site.where} with Bearer ${CANARY}`);

    const output = lines.join('');
    expect(lines).toHaveLength(1);
    expect(output).not.toContain(CANARY);
    for (const field of site.fields ?? []) expect(output).toContain(JSON.stringify(field));
  });
});
