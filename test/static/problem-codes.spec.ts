import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SERVICES = ['issuer', 'revoker', 'distributor', 'auditor'];

/** The services' and libraries' source, without tests (the CLI answers no HTTP). */
const sources = (): { file: string; text: string }[] =>
  [...SERVICES.map((service) => join('apps', service, 'src')), ...readdirSync(join(ROOT, 'libs')).map((lib) => join('libs', lib, 'src'))]
    .flatMap((dir) =>
      readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
        .map((file) => join(dir, file)),
    )
    .map((file) => ({ file, text: readFileSync(join(ROOT, file), 'utf8') }));

const STATUS: Record<string, string> = {
  invalid: '400',
  unauthenticated: '401',
  forbidden: '403',
  'not-found': '404',
  conflict: '409',
  'rate-limited': '429',
  unavailable: '503',
};

/**
 * Every problem code the source can answer, with the statuses it answers it with:
 * `new DomainError(kind, 'code'…)`, the kind-named helpers (`unauthenticated('code', …)`),
 * `<dependency>-unavailable` for each dependency a route `@Needs` or a call is bounded by, and the
 * codes the problem filter and the listener split write themselves.
 */
function usedCodes(): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const add = (code: string, status: string) => used.set(code, (used.get(code) ?? new Set()).add(status));
  for (const { file, text } of sources()) {
    for (const [, kind, code] of text.matchAll(/new DomainError\(\s*'([a-z-]+)',\s*'([a-z0-9-]+)'/g)) add(code!, STATUS[kind!]!);
    for (const [, kind, code] of text.matchAll(/\b(unauthenticated|forbidden|invalid)\(\s*'([a-z0-9-]+)'/g)) add(code!, STATUS[kind!]!);
    // The revoker's run routes name their id's code: runId(id, 'invalid-…-id', …).
    for (const [, code] of text.matchAll(/\brunId\(\s*\w+,\s*'([a-z0-9-]+)'/g)) add(code!, '400');
    for (const [, list] of text.matchAll(/@Needs\(([^)]*)\)/g))
      for (const [, dependency] of list!.matchAll(/'([a-z]+)'/g)) add(`${dependency}-unavailable`, '503');
    // A bounded call whose timeout is caught on the spot (the undo of a failed issuance) answers nothing.
    for (const [, dependency] of text.matchAll(/\.bounded\(\s*'([a-z]+)'(?![^\n]*\.catch\(\(\) => undefined\))/g))
      add(`${dependency}-unavailable`, '503');
    if (file.startsWith(join('libs', 'service-kit'))) {
      for (const [, code] of text.matchAll(/\bcode: '([a-z0-9-]+)'/g)) add(code!, 'any');
      for (const [, status, code] of text.matchAll(/^\s+(\d{3}): '([a-z-]+)',$/gm)) add(code!, status!);
      if (text.includes('`http-${status}`')) add('http-<status>', 'any');
      for (const [, dependency] of text.matchAll(/return '([a-z]+)';/g)) add(`${dependency}-unavailable`, '503');
    }
  }
  return used;
}

/** The codes docs/problems.md lists: the first cell of each table row, with its status cell. */
function documentedCodes(): Map<string, string> {
  const doc = readFileSync(join(ROOT, 'docs', 'problems.md'), 'utf8');
  return new Map(
    [...doc.matchAll(/^\| `([a-z0-9<>-]+)` +\| ([^|]+)\|/gm)].map(([, code, status]) => [code!, status!.trim()] as [string, string]),
  );
}

describe('docs/problems.md', () => {
  const used = usedCodes();
  const documented = documentedCodes();

  it('finds the codes in the source', () => {
    // A guard on the extraction itself: these come from each of its rules.
    for (const code of ['lease-not-found', 'invalid-token', 'redis-unavailable', 'postgres-unavailable', 'internal', 'payload-too-large'])
      expect([code, used.has(code)]).toEqual([code, true]);
  });

  it('lists every problem code the services can answer', () => {
    expect([...used.keys()].filter((code) => !documented.has(code)).sort()).toEqual([]);
  });

  it('lists no code the services no longer answer', () => {
    expect([...documented.keys()].filter((code) => !used.has(code)).sort()).toEqual([]);
  });

  it('gives each code the status its kind maps to', () => {
    const wrong = [...used].flatMap(([code, statuses]) =>
      [...statuses].filter((status) => status !== 'any' && !documented.get(code)?.includes(status)).map((status) => `${code}: ${status}`),
    );
    expect(wrong).toEqual([]);
  });
});
