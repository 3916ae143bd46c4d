import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { registeredMetrics, serviceSources } from '../support/defined-metrics';
import { alertRules } from '../support/prometheus-rule';

const root = join(__dirname, '..', '..');
const runbooksDir = join(root, 'docs', 'runbooks');

/** The runbooks issue 16 asks for by name; the index and the alert runbooks come on top. */
const REQUIRED = [
  'emergency-rotation.md',
  'irrevocable-lease.md',
  'broken-audit-chain.md',
  'dead-letter-topic.md',
  'gsm-quota.md',
  'kafka-outage.md',
  'redis-outage.md',
];
const SECTIONS = ['## Starts with', '## Steps', '## Confirm it is over'];
/** An alert's runbook_url: the PLACEHOLDER host of k8s/observability/prometheus-rule.yaml and a runbook here. */
const RUNBOOK_URL = /^https:\/\/rotor\.example\.com\/docs\/runbooks\/([a-z0-9-]+\.md)$/;

const code = serviceSources();
const { names: registered, histograms } = registeredMetrics(code);

/** Names that share the prefix: a lease's PostgreSQL role (`rotor_<32 hex>`), the auditor's database and role, the metrics' `rotor_service` label. */
const NOT_METRICS = /^rotor_([0-9a-f]{32}|audit|auditor|service)$/;

/** `rotor_…` words a text names that no service registers (a histogram's _bucket/_sum/_count count as it). */
export function unknownMetrics(text: string): string[] {
  const named = [...text.matchAll(/\brotor_[a-z0-9_]*[a-z0-9]\b/g)].map((match) => match[0]).filter((name) => !NOT_METRICS.test(name));
  const known = (name: string) => {
    if (registered.has(name)) return true;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return base !== name && histograms.has(base);
  };
  return [...new Set(named.filter((name) => !known(name)))];
}

/** Every route the services serve, as `METHOD /path` with `:param` segments. */
function servedRoutes(): Set<string> {
  const routes = new Set(['GET /healthz', 'GET /readyz', 'GET /metrics']);
  for (const text of code) {
    const prefix = /@Controller\(\s*'([^']*)'\s*\)/.exec(text)?.[1];
    if (prefix === undefined) continue;
    for (const [, method, path] of text.matchAll(/@(Get|Post|Put|Patch|Delete)\(\s*(?:'([^']*)')?\s*\)/g))
      routes.add(`${method!.toUpperCase()} /${[prefix, path].filter(Boolean).join('/')}`);
  }
  return routes;
}

/** `METHOD /v1/…` mentions whose path no service serves ({id}, <id> and :id are parameters; the query is ignored). */
export function unknownRoutes(text: string, routes = servedRoutes()): string[] {
  const patterns = [...routes].map((route) => new RegExp(`^${route.replace(/:[^/]+/g, '[^/]+').replace(/\//g, '\\/')}$`));
  return [...text.matchAll(/\b(GET|POST|PUT|PATCH|DELETE) (\/[A-Za-z0-9_./{}<>:-]*)/g)]
    .map(([, method, path]) => `${method} ${path!.replace(/[.:]+$/, '')}`)
    .filter((route) => !patterns.some((pattern) => pattern.test(route)));
}

const runbooks = readdirSync(runbooksDir).filter((name) => name.endsWith('.md'));
const read = (name: string) => readFileSync(join(runbooksDir, name), 'utf8');
const configuration = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');

describe('the runbooks', () => {
  it('every runbook the issue names exists', () => {
    expect(REQUIRED.filter((name) => !runbooks.includes(name))).toEqual([]);
  });

  it.each(runbooks.filter((name) => name !== 'README.md'))('%s names what starts it, the steps and how to confirm it is over', (name) => {
    const text = read(name);
    expect(SECTIONS.filter((section) => !text.split('\n').includes(section))).toEqual([]);
  });

  it('the index links every runbook, and every link between runbooks and docs resolves', () => {
    const index = read('README.md');
    expect(runbooks.filter((name) => name !== 'README.md' && !index.includes(`](${name})`))).toEqual([]);
    const broken = runbooks.flatMap((name) =>
      [...read(name).matchAll(/\]\(([^)#\s]+\.md)(?:#[^)]*)?\)/g)]
        .map((match) => match[1]!)
        .filter((target) => !/^https?:/.test(target) && !existsSync(resolve(dirname(join(runbooksDir, name)), target)))
        .map((target) => `${name} → ${target}`),
    );
    expect(broken).toEqual([]);
  });

  it('every rotor_… metric a runbook names is one a service registers', () => {
    expect(runbooks.flatMap((name) => unknownMetrics(read(name)).map((metric) => `${name}: ${metric}`))).toEqual([]);
  });

  it('every REST route a runbook names is one a service serves', () => {
    expect(runbooks.flatMap((name) => unknownRoutes(read(name)).map((route) => `${name}: ${route}`))).toEqual([]);
  });

  it('every /readyz check a runbook reads is one a service registers', () => {
    // Named at registration, and the credential backends' checks by their kind (only these two can be pinged).
    const checks = new Set([
      ...code.flatMap((text) => [...text.matchAll(/\.register\(\{\s*name:\s*'([a-z-]+)'/g)].map((match) => match[1]!)),
      'postgres',
      'redis-acl',
    ]);
    const unknown = runbooks.flatMap((name) =>
      [...read(name).matchAll(/\.checks\.([a-z-]+)/g)]
        .map((match) => match[1]!)
        .filter((check) => !checks.has(check))
        .map((check) => `${name}: ${check}`),
    );
    expect(unknown).toEqual([]);
  });

  it('every ROTOR_ variable a runbook names is in the configuration reference', () => {
    const unknown = runbooks.flatMap((name) =>
      [...new Set([...read(name).matchAll(/\bROTOR_[A-Z0-9_]*[A-Z0-9]\b/g)].map((match) => match[0]))]
        .filter((variable) => !new RegExp(`\\b${variable}\\b`).test(configuration))
        .map((variable) => `${name}: ${variable}`),
    );
    expect(unknown).toEqual([]);
  });

  it('every alert rotor ships links a runbook here, which names the alert in what starts it', () => {
    const links = alertRules().map((rule) => ({ alert: rule.alert, runbook: RUNBOOK_URL.exec(rule.annotations?.runbook_url ?? '')?.[1] }));
    expect(links.filter(({ runbook }) => runbook === undefined || !runbooks.includes(runbook))).toEqual([]);
    const startsWith = (name: string) => read(name).split('## Starts with')[1]?.split('\n## ')[0] ?? '';
    expect(links.filter(({ alert, runbook }) => !startsWith(runbook!).includes(`\`${alert}\``))).toEqual([]);
  });

  it("the index's alert table lists every alert once, with its severity and runbook", () => {
    const table = [...read('README.md').matchAll(/^\| `(Rotor\w+)` +\| (\w+) +\| \[[^\]]+\]\(([a-z0-9-]+\.md)\) +\|$/gm)].map(
      ([, alert, severity, runbook]) => `${alert} ${severity} ${runbook}`,
    );
    const rules = alertRules().map(
      (rule) => `${rule.alert} ${rule.labels?.severity} ${RUNBOOK_URL.exec(rule.annotations?.runbook_url ?? '')?.[1]}`,
    );
    expect(table).toEqual(rules);
  });

  it('the checks catch an invented metric and an invented route', () => {
    expect(unknownMetrics('`rotor_leases_irrevocable` and `rotor_gsm_quota_exhausted_total`')).toEqual(['rotor_gsm_quota_exhausted_total']);
    expect(unknownMetrics('rotor_revocation_lag_seconds_bucket, rotor_leases_irrevocable_bucket')).toEqual([
      'rotor_leases_irrevocable_bucket',
    ]);
    expect(unknownRoutes('GET /v1/leases?state=irrevocable, DELETE /v1/leases/{id}, POST /v1/dlq/redrive')).toEqual([
      'POST /v1/dlq/redrive',
    ]);
  });
});
