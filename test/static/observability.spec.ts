/**
 * The operations files of k8s/observability: the kustomization renders, each ServiceMonitor
 * scrapes a port that serves /metrics over HTTPS in the production overlay, the alert rules
 * pass `promtool check rules` and their unit tests (`promtool test rules`, tests/*.test.yaml),
 * and every metric the rules and dashboards query is one a service exports.
 *
 * Needs `kubectl` on the PATH and promtool built by scripts/go-tools.sh (`npm test` builds it).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { parse, stringify } from 'yaml';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IService } from 'kubernetes-models/v1/Service';

import { exportedSeries } from '../support/defined-metrics';
import { goToolPath } from '../support/go-tools';
import { type Manifest, manifestId as id, ofKind, renderKustomize, validationErrors } from '../support/kustomize';
import { alertRules, ruleGroups } from '../support/prometheus-rule';

const repoRoot = join(__dirname, '..', '..');
const OBSERVABILITY = 'k8s/observability';
/** Where rotor runs with TLS and an operator listener: the deployment the ServiceMonitors are for. */
const PRODUCTION = 'k8s/overlays/production';
const NAMESPACE = 'rotor';
const SCRAPED = ['auditor', 'distributor', 'injector', 'issuer', 'revoker'];
const SERVICE_MONITOR = 'monitoring.coreos.com/v1/ServiceMonitor';
const PROMETHEUS_RULE = 'monitoring.coreos.com/v1/PrometheusRule';
const RULES_FILE = 'rotor.rules.yaml';
const TESTS_DIR = join(repoRoot, OBSERVABILITY, 'tests');
const DASHBOARDS_DIR = join(repoRoot, OBSERVABILITY, 'dashboards');
const SEVERITIES = ['critical', 'warning', 'info'];
const SLOS = join(repoRoot, 'docs', 'slos.md');

interface ServiceMonitor extends Manifest {
  spec: {
    jobLabel?: string;
    selector: { matchLabels: Record<string, string> };
    endpoints: {
      port: string;
      path?: string;
      scheme?: string;
      tlsConfig?: { serverName?: string; insecureSkipVerify?: boolean; ca?: { configMap?: { name: string; key: string } } };
    }[];
  };
}
interface Certificate extends Manifest {
  spec: { secretName: string; dnsNames?: string[] };
}
interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list: { query?: unknown }[] };
}
interface RuleTestFile {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);

/** A container's variable as Kubernetes resolves it from `env` and ConfigMaps in `envFrom` (Secrets: undefined). */
function envValue(manifests: Manifest[], deployment: IDeployment & Manifest, name: string): string | undefined {
  const container = deployment.spec?.template.spec?.containers[0];
  const direct = container?.env?.find((variable) => variable.name === name);
  if (direct) return direct.value;
  for (const source of container?.envFrom ?? []) {
    const configMap = ofKind<IConfigMap>(manifests, 'ConfigMap').find(
      (candidate) =>
        candidate.metadata.name === source.configMapRef?.name && candidate.metadata.namespace === deployment.metadata.namespace,
    );
    const value = configMap?.data?.[name];
    if (value !== undefined) return value;
  }
  return undefined;
}

/** The DNS names of the cert-manager Certificate whose Secret is mounted where the deployment reads its TLS certificate. */
function servedNames(manifests: Manifest[], deployment: IDeployment & Manifest): string[] {
  const certFile = envValue(manifests, deployment, 'ROTOR_TLS_CERT_FILE');
  const pod = deployment.spec?.template.spec;
  const mount = pod?.containers[0]?.volumeMounts?.find((candidate) => certFile !== undefined && candidate.mountPath === dirname(certFile));
  const secret = pod?.volumes?.find((volume) => volume.name === mount?.name)?.secret?.secretName;
  const certificate = ofKind<Certificate>(manifests, 'Certificate').find((candidate) => candidate.spec.secretName === secret);
  return certificate?.spec.dnsNames ?? [];
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.error) throw result.error;
  return result.status === 0 ? '' : `exit ${result.status}\n${result.stdout}${result.stderr}`;
}

/** A directory holding the PrometheusRule's spec as a Prometheus rules file, which the unit tests name. */
function rulesDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-rules-'));
  writeFileSync(join(dir, RULES_FILE), stringify({ groups: ruleGroups() }));
  return dir;
}

const testFiles = readdirSync(TESTS_DIR).filter((name) => name.endsWith('.test.yaml'));
const readTestFile = (name: string) => parse(readFileSync(join(TESTS_DIR, name), 'utf8')) as RuleTestFile;
const dashboardFiles = readdirSync(DASHBOARDS_DIR).filter((name) => name.endsWith('.json'));
const readDashboard = (name: string) => JSON.parse(readFileSync(join(DASHBOARDS_DIR, name), 'utf8')) as Dashboard;

/** The PromQL of docs/slos.md: its promql blocks, one expression per paragraph, comment lines aside. */
const sloQueries = (): string[] =>
  [...readFileSync(SLOS, 'utf8').matchAll(/```promql\n([\s\S]*?)```/g)].flatMap(([, block]) =>
    block!
      .split(/\n\s*\n/)
      .map((paragraph) =>
        paragraph
          .split('\n')
          .filter((line) => !line.trim().startsWith('#'))
          .join('\n')
          .trim(),
      )
      .filter(Boolean),
  );

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'atan2']);

/** The metric names a PromQL expression selects (Grafana's `$variables` aside). */
export function queriedMetrics(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  // Names never stand before `(`: those are functions and aggregations.
  const names = [...bare.matchAll(/(?<![\w.:])([A-Za-z_:][\w:]*)\b(?!\s*\()/g)].map((match) => match[1]!);
  return [...new Set(names.filter((name) => !PROMQL_KEYWORDS.has(name.toLowerCase())))];
}

const panelQueries = (panels: Panel[]): string[] =>
  panels.flatMap((panel) => [
    ...(panel.targets ?? []).flatMap((target) => (target.expr ? [target.expr] : [])),
    ...panelQueries(panel.panels ?? []),
  ]);

describe('k8s/observability', () => {
  let manifests: Manifest[];
  let production: Manifest[];

  beforeAll(() => {
    manifests = renderKustomize(OBSERVABILITY).manifests;
    production = renderKustomize(PRODUCTION).manifests;
  });

  it('renders a ServiceMonitor per service and the injector, the rules, the dashboards and the injector metrics Service, in the rotor namespace', () => {
    expect(manifests.map(id).sort()).toEqual(
      [
        `ConfigMap ${NAMESPACE}/rotor-dashboards`,
        `PrometheusRule ${NAMESPACE}/rotor`,
        `Service ${NAMESPACE}/injector-metrics`,
        ...SCRAPED.map((name) => `ServiceMonitor ${NAMESPACE}/${name}`),
      ].sort(),
    );
    expect(validationErrors(manifests, [SERVICE_MONITOR, PROMETHEUS_RULE])).toEqual([]);
    expect(manifests.filter((manifest) => manifest.metadata.labels?.['app.kubernetes.io/part-of'] !== 'rotor').map(id)).toEqual([]);
  });

  it("scrapes each service's operator listener, which serves /metrics, over HTTPS with the rotor CA and a name its certificate holds", () => {
    const services = [...ofKind<IService>(production, 'Service'), ...ofKind<IService>(manifests, 'Service')].filter(
      (service) => service.metadata.namespace === NAMESPACE,
    );
    const deployments = ofKind<IDeployment>(production, 'Deployment');
    const scraped = ofKind<ServiceMonitor>(manifests, 'ServiceMonitor').map((monitor) => {
      const matched = services.filter((service) => selects(monitor.spec.selector.matchLabels, service.metadata.labels));
      const service = matched[0];
      const selected = deployments.filter((deployment) => selects(service?.spec?.selector, deployment.spec?.template.metadata?.labels));
      const deployment = selected[0];
      const endpoints = monitor.spec.endpoints.map((endpoint) => {
        const servicePort = service?.spec?.ports?.find((port) => port.name === endpoint.port);
        const containerPort = deployment?.spec?.template.spec?.containers[0]?.ports?.find((port) => port.name === servicePort?.targetPort);
        const tls = endpoint.tlsConfig;
        return {
          path: endpoint.path,
          // /metrics is served only on the operator listener (libs/service-kit listener-routes.ts).
          operatorListener:
            deployment !== undefined && containerPort?.containerPort === Number(envValue(production, deployment, 'ROTOR_OPERATOR_PORT')),
          scheme: endpoint.scheme,
          servesTls: deployment !== undefined && envValue(production, deployment, 'ROTOR_TLS_CERT_FILE') !== undefined,
          serverNameCertified: deployment !== undefined && servedNames(production, deployment).includes(tls?.serverName ?? ''),
          ca: tls?.ca?.configMap,
          insecureSkipVerify: tls?.insecureSkipVerify ?? false,
        };
      });
      return {
        monitor: monitor.metadata.name,
        services: matched.length,
        deployments: selected.map((candidate) => candidate.metadata.name),
        job: service?.metadata?.labels?.[monitor.spec.jobLabel ?? ''],
        endpoints,
      };
    });
    const expected = (name: string) => ({
      monitor: name,
      services: 1,
      deployments: [name],
      job: name,
      endpoints: [
        {
          path: '/metrics',
          operatorListener: true,
          scheme: 'https',
          servesTls: true,
          serverNameCertified: true,
          ca: { name: 'rotor-ca', key: 'ca.crt' },
          insecureSkipVerify: false,
        },
      ],
    });
    expect(scraped.sort((a, b) => a.monitor.localeCompare(b.monitor))).toEqual(SCRAPED.map(expected));
  });

  it('ships every dashboard as a ConfigMap labelled for the Grafana sidecar, each valid JSON with its own uid', () => {
    const configMaps = ofKind<IConfigMap>(manifests, 'ConfigMap');
    expect(configMaps.map((configMap) => configMap.metadata.labels?.grafana_dashboard)).toEqual(['1']);
    expect(Object.keys(configMaps[0]?.data ?? {}).sort()).toEqual([...dashboardFiles].sort());
    const dashboards = dashboardFiles.map(readDashboard);
    expect(new Set(dashboards.map((dashboard) => dashboard.uid)).size).toBe(dashboardFiles.length);
    // `kubectl apply` keeps the whole object in an annotation, which may not exceed 256 KiB.
    expect(JSON.stringify(configMaps[0]).length).toBeLessThan(256 * 1024);
    for (const dashboard of dashboards)
      expect({ uid: dashboard.uid, queries: panelQueries(dashboard.panels).length > 0 }).toEqual({ uid: dashboard.uid, queries: true });
  });
});

describe('the alert rules', () => {
  const alerts = alertRules();

  it('pass promtool check rules', () => {
    const promtool = goToolPath('promtool');
    expect(run(promtool, ['check', 'rules', RULES_FILE], rulesDirectory())).toBe('');
  });

  it('each have a severity, a summary, a description and a runbook link, and a unique name', () => {
    const incomplete = alerts.filter(
      (rule) =>
        !SEVERITIES.includes(rule.labels?.severity ?? '') ||
        !rule.annotations?.summary ||
        !rule.annotations.description ||
        !rule.annotations.runbook_url,
    );
    expect(incomplete.map((rule) => rule.alert)).toEqual([]);
    expect(new Set(alerts.map((rule) => rule.alert)).size).toBe(alerts.length);
  });

  it('each have a unit test in which they fire and one in which they do not', () => {
    const cases = testFiles.flatMap((file) =>
      readTestFile(file).tests.flatMap((test) =>
        (test.alert_rule_test ?? []).map((check) => ({ alert: check.alertname, fires: (check.exp_alerts ?? []).length > 0 })),
      ),
    );
    const untested = alerts.flatMap((rule) =>
      [true, false]
        .filter((fires) => !cases.some((test) => test.alert === rule.alert && test.fires === fires))
        .map((fires) => `${rule.alert}: no test in which it ${fires ? 'fires' : 'stays quiet'}`),
    );
    expect(untested).toEqual([]);
    expect(cases.filter((test) => !alerts.some((rule) => rule.alert === test.alert)).map((test) => test.alert)).toEqual([]);
  });

  it.each(testFiles)('pass the unit tests of %s (promtool test rules)', (file) => {
    const promtool = goToolPath('promtool');
    expect(readTestFile(file).rule_files).toEqual([RULES_FILE]);
    const dir = rulesDirectory();
    copyFileSync(join(TESTS_DIR, file), join(dir, file));
    expect(run(promtool, ['test', 'rules', file], dir)).toBe('');
  });
});

describe('the PromQL of docs/slos.md', () => {
  it('parses (promtool check rules, as recording rules)', () => {
    const queries = sloQueries();
    expect(queries.length).toBeGreaterThanOrEqual(8);
    const dir = mkdtempSync(join(tmpdir(), 'rotor-slos-'));
    const rules = queries.map((expr, index) => ({ record: `slo:query_${index}:value`, expr }));
    writeFileSync(join(dir, 'slos.rules.yaml'), stringify({ groups: [{ name: 'slos', rules }] }));
    expect(run(goToolPath('promtool'), ['check', 'rules', 'slos.rules.yaml'], dir)).toBe('');
  });
});

describe('the metrics the rules, dashboards and SLOs query', () => {
  const groups = ruleGroups();
  const recorded = new Set(groups.flatMap((group) => group.rules.flatMap((rule) => (rule.record ? [rule.record] : []))));
  const exported = exportedSeries();
  const unknown = (expr: string) => queriedMetrics(expr).filter((name) => !exported.has(name) && !recorded.has(name));

  it('are all exported by a service (or recorded by the rules)', () => {
    const fromSlos = sloQueries().flatMap((expr) => unknown(expr).map((name) => `docs/slos.md: ${name}`));
    const fromRules = groups.flatMap((group) =>
      group.rules.flatMap((rule) => unknown(rule.expr).map((name) => `prometheus-rule.yaml ${rule.alert ?? rule.record}: ${name}`)),
    );
    const fromDashboards = dashboardFiles.flatMap((file) => {
      const dashboard = readDashboard(file);
      const templating = (dashboard.templating?.list ?? []).flatMap((variable) =>
        typeof variable.query === 'string' ? [variable.query] : [],
      );
      return [...panelQueries(dashboard.panels), ...templating.filter((query) => query !== 'prometheus')].flatMap((expr) =>
        unknown(expr).map((name) => `${file}: ${name}`),
      );
    });
    expect([...new Set([...fromRules, ...fromDashboards, ...fromSlos])]).toEqual([]);
  });

  it('are found in PromQL, and an invented one is caught', () => {
    expect(
      queriedMetrics(
        'histogram_quantile(0.99, sum by (le, kind) (rate(rotor_delivery_copy_seconds_bucket{kind="k8s",le!="1e3"}[$__rate_interval]))) > 1e3 and on (kind) rotor:x:ratio offset 5m',
      ),
    ).toEqual(['rotor_delivery_copy_seconds_bucket', 'rotor:x:ratio']);
    expect(unknown('max(rotor_leases_irrevocable) > 0 or sum(rate(rotor_leases_revoked_bucket[5m])) > 0')).toEqual([
      'rotor_leases_revoked_bucket',
    ]);
    expect(unknown('rate(process_cpu_seconds_total[5m]) + nodejs_gc_duration_seconds_count + kube_pod_status_ready')).toEqual([
      'kube_pod_status_ready',
    ]);
  });
});
