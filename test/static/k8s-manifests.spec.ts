/**
 * Static checks of the deployment files: the kustomize base and local overlay rendered by
 * `kubectl kustomize`, docker-compose.yml and the Dockerfile. No cluster or Docker engine
 * is needed; `kubectl` must be on the PATH.
 *
 * kubernetes-models validates types, enums and required fields but, like the API
 * server's non-strict mode, accepts unknown fields: a misspelt `livenesProbe` would pass
 * its schema. The property checks below are what catch such mistakes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

import { parseCatalog } from '@rotor/catalog';
import { parse } from 'yaml';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

import { AGENT_BUNDLE } from '../../tools/agent-build/build';
import { type Manifest, manifestId as id, ofKind, renderKustomize, validationErrors } from '../support/kustomize';

const repoRoot = join(__dirname, '..', '..');
const SERVICES = ['auditor', 'distributor', 'issuer', 'revoker'] as const;
/** The admission webhook (k8s/injector): in the local overlay, not the base; it verifies no tokens and reads no catalog. */
const INJECTOR = 'injector';
const ROTOR_NAMESPACE = 'rotor';
const OUT_OF_BAND_SECRET = 'rotor-service-secrets';
/** rotor-service-secrets itself, or the overlay's generated copy with kustomize's hash suffix. */
const isServiceSecret = (name: string | undefined) =>
  name === OUT_OF_BAND_SECRET || new RegExp(`^${OUT_OF_BAND_SECRET}-[a-z0-9]{10}$`).test(name ?? '');
const CATALOG_PATH = '/etc/rotor/catalog.yaml';

/** Services whose config loader (apps/<service>/src/config.ts) reads ROTOR_CATALOG. */
const CATALOG_READERS = ['auditor', 'distributor', 'issuer', 'revoker'];
/** Services that run the credential backends (mint or revoke PostgreSQL roles): DATABASE_URL. */
const BACKEND_SERVICES = ['issuer', 'revoker'];
/**
 * The auditor's own database (apps/auditor/src/config.ts): the URL in a file from a mounted
 * Secret, never DATABASE_URL (the postgres backend's admin connection).
 */
const AUDIT_DATABASE_SECRET = 'rotor-audit-database';
const AUDIT_DATABASE_VARIABLES = ['ROTOR_AUDIT_DATABASE_URL', 'ROTOR_AUDIT_DATABASE_URL_FILE'];
/** The keys each service reads from rotor-service-secrets, and nothing else. */
const SECRET_KEYS: Record<(typeof SERVICES)[number] | typeof INJECTOR, string[]> = {
  injector: [],
  auditor: ['ROTOR_AUDIT_KEY'],
  distributor: ['ROTOR_CONTENT_HASH_KEY'],
  issuer: ['DATABASE_URL', 'ROTOR_TOKEN_HASH_KEY'],
  revoker: ['DATABASE_URL'],
};
/**
 * Services that mount a Kubernetes API token: the issuer for TokenReview, the distributor
 * to write Secrets in the target namespaces.
 */
const API_TOKEN_SERVICES = ['distributor', 'issuer'];
/** The only ClusterRole any rotor identity is bound to, and to whom. */
const CLUSTER_ROLE_GRANTS = [`ClusterRoleBinding: ServiceAccount ${ROTOR_NAMESPACE}/issuer -> system:auth-delegator`];

// ---------------------------------------------------------------------------------------
// Helpers over the rendered objects
// ---------------------------------------------------------------------------------------

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);

function podSpec(deployment: IDeployment) {
  const spec = deployment.spec?.template.spec;
  if (!spec) throw new Error(`Deployment ${deployment.metadata?.name} has no pod spec`);
  return spec;
}

const podLabels = (deployment: IDeployment) => deployment.spec?.template.metadata?.labels;

type Container = ReturnType<typeof podSpec>['containers'][number];

/** Where a container's variable comes from, once Kubernetes has merged `envFrom` and `env`. */
type EnvSource = { value: string } | { secret: string | undefined; key: string } | { other: true };

/** A container's environment as Kubernetes resolves it: `env` entries override `envFrom`. */
function containerEnv(manifests: Manifest[], namespace: string | undefined, container: Container) {
  const env = new Map<string, EnvSource>();
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    if (source.configMapRef) {
      const configMap = ofKind<IConfigMap>(manifests, 'ConfigMap').find(
        (candidate) => candidate.metadata.name === source.configMapRef?.name && candidate.metadata.namespace === namespace,
      );
      for (const [key, value] of Object.entries(configMap?.data ?? {})) env.set(prefix + key, { value });
    }
    if (source.secretRef) {
      const secret = ofKind<ISecret>(manifests, 'Secret').find(
        (candidate) => candidate.metadata.name === source.secretRef?.name && candidate.metadata.namespace === namespace,
      );
      for (const key of Object.keys({ ...secret?.data, ...secret?.stringData }))
        env.set(prefix + key, { secret: source.secretRef.name, key });
    }
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) env.set(variable.name, { secret: ref.name, key: ref.key });
    else if (variable.valueFrom) env.set(variable.name, { other: true });
    else env.set(variable.name, { value: variable.value ?? '' });
  }
  return env;
}

/** A variable's plain value in a container, undefined when unset or drawn from a Secret. */
function envValue(manifests: Manifest[], deployment: IDeployment & Manifest, container: Container, name: string) {
  const source = containerEnv(manifests, deployment.metadata.namespace, container).get(name);
  return source && 'value' in source ? source.value : undefined;
}

/** The ConfigMap volume and mount that put a file at `path` in a container, if any. */
function mountedConfigMap(deployment: IDeployment, container: Container, path: string | undefined) {
  const mount = container.volumeMounts?.find((candidate) => path !== undefined && candidate.mountPath === path);
  const volume = podSpec(deployment).volumes?.find((candidate) => candidate.name === mount?.name);
  return { configMap: volume?.configMap?.name, subPath: mount?.subPath };
}

const generated = (manifests: Manifest[], prefix: string) =>
  ofKind<IConfigMap>(manifests, 'ConfigMap').find((configMap) => configMap.metadata.name.startsWith(prefix));

/** The container ports of a Deployment, by name and by number. */
function containerPorts(deployment: IDeployment): Set<string | number> {
  return new Set(
    podSpec(deployment).containers.flatMap((container) =>
      (container.ports ?? []).flatMap((port) => [port.containerPort, ...(port.name ? [port.name] : [])]),
    ),
  );
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
}
interface RoleLike extends Manifest {
  rules?: PolicyRule[];
}
interface BindingLike extends Manifest {
  roleRef: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/**
 * Built-in ClusterRoles the manifests may bind to without defining them, with their rules
 * as the API server bootstraps them (plugin/pkg/auth/authorizer/rbac/bootstrappolicy).
 */
const BUILT_IN_CLUSTER_ROLES: Record<string, PolicyRule[]> = {
  'system:auth-delegator': [
    { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
  ],
};

const SECRET_WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection', '*']);

const canWriteSecrets = (role: RoleLike) =>
  (role.rules ?? []).some(
    (rule) =>
      (rule.apiGroups ?? []).some((group) => group === '' || group === '*') &&
      (rule.resources ?? []).some((resource) => resource === 'secrets' || resource === '*') &&
      rule.verbs.some((verb) => SECRET_WRITE_VERBS.has(verb)),
  );

/**
 * Every subject bound to a role that can write Secrets, with where the grant applies;
 * bindings to roles the manifests do not define are reported, since they cannot be checked.
 */
function secretWriters(manifests: Manifest[]) {
  const roles = new Map<string, RoleLike>();
  for (const [name, rules] of Object.entries(BUILT_IN_CLUSTER_ROLES))
    roles.set(`ClusterRole/${name}`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name },
      rules,
    });
  for (const role of ofKind<RoleLike>(manifests, 'Role')) roles.set(`Role/${role.metadata.namespace}/${role.metadata.name}`, role);
  for (const role of ofKind<RoleLike>(manifests, 'ClusterRole')) roles.set(`ClusterRole/${role.metadata.name}`, role);

  const writers: { subject: string; scope: string }[] = [];
  const unresolved: string[] = [];
  const bindings = [...ofKind<BindingLike>(manifests, 'RoleBinding'), ...ofKind<BindingLike>(manifests, 'ClusterRoleBinding')];
  for (const binding of bindings) {
    const key =
      binding.roleRef.kind === 'ClusterRole'
        ? `ClusterRole/${binding.roleRef.name}`
        : `Role/${binding.metadata.namespace}/${binding.roleRef.name}`;
    const role = roles.get(key);
    if (!role) {
      unresolved.push(`${id(binding)} -> ${key}`);
      continue;
    }
    if (!canWriteSecrets(role)) continue;
    for (const subject of binding.subjects ?? []) {
      writers.push({
        subject: `${subject.kind} ${subject.namespace ?? ''}/${subject.name}`,
        scope: binding.kind === 'ClusterRoleBinding' ? '(cluster)' : (binding.metadata.namespace ?? ''),
      });
    }
  }
  return { writers, unresolved };
}

// ---------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------

describe.each([
  ['the base', 'k8s/base', [...SERVICES]],
  ['the local overlay', 'k8s/overlays/local', [...SERVICES, INJECTOR].sort()],
])('Kubernetes manifests of %s', (_label, dir, expectedDeployments) => {
  let manifests: Manifest[];
  let deployments: (IDeployment & Manifest)[];

  beforeAll(() => {
    manifests = renderKustomize(dir).manifests;
    deployments = ofKind<IDeployment>(manifests, 'Deployment');
  });

  it('contains only kinds with a known schema, and every object is valid against it', () => {
    expect(manifests.length).toBeGreaterThan(0);
    expect(validationErrors(manifests)).toEqual([]);
  });

  it('renders one Deployment per service, labelled with its name and as part of rotor, in the rotor namespace', () => {
    expect(deployments.map((deployment) => deployment.metadata.name).sort()).toEqual(expectedDeployments);
    for (const deployment of deployments) {
      expect(deployment.metadata.namespace).toBe(ROTOR_NAMESPACE);
      expect(deployment.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': deployment.metadata.name,
        'app.kubernetes.io/part-of': 'rotor',
      });
      expect(selects(deployment.spec?.selector.matchLabels, podLabels(deployment))).toBe(true);
    }
  });

  it('probes every container for liveness on /healthz and readiness on /readyz, on a port it declares', () => {
    for (const deployment of deployments) {
      const ports = containerPorts(deployment);
      for (const container of podSpec(deployment).containers) {
        const where = `${deployment.metadata.name}/${container.name}`;
        expect({ where, path: container.livenessProbe?.httpGet?.path }).toEqual({ where, path: '/healthz' });
        expect({ where, path: container.readinessProbe?.httpGet?.path }).toEqual({ where, path: '/readyz' });
        for (const probe of [container.livenessProbe, container.readinessProbe]) {
          const port = probe?.httpGet?.port;
          expect({ where, declared: port !== undefined && ports.has(port) }).toEqual({ where, declared: true });
        }
      }
    }
  });

  it('gives every container CPU and memory requests and limits', () => {
    for (const deployment of deployments) {
      for (const container of podSpec(deployment).containers) {
        const { requests, limits } = container.resources ?? {};
        expect({
          where: `${deployment.metadata.name}/${container.name}`,
          requests: Object.keys(requests ?? {}).sort(),
          limits: Object.keys(limits ?? {}).sort(),
        }).toEqual({
          where: `${deployment.metadata.name}/${container.name}`,
          requests: ['cpu', 'memory'],
          limits: ['cpu', 'memory'],
        });
      }
    }
  });

  it('runs every container as non-root, read-only, without privilege escalation or capabilities, under RuntimeDefault seccomp', () => {
    for (const deployment of deployments) {
      const pod = podSpec(deployment);
      for (const container of pod.containers) {
        const context = container.securityContext ?? {};
        expect({
          where: `${deployment.metadata.name}/${container.name}`,
          runAsNonRoot: context.runAsNonRoot ?? pod.securityContext?.runAsNonRoot,
          readOnlyRootFilesystem: context.readOnlyRootFilesystem,
          allowPrivilegeEscalation: context.allowPrivilegeEscalation,
          dropped: context.capabilities?.drop,
          added: context.capabilities?.add ?? [],
          seccomp: (context.seccompProfile ?? pod.securityContext?.seccompProfile)?.type,
        }).toEqual({
          where: `${deployment.metadata.name}/${container.name}`,
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          dropped: ['ALL'],
          added: [],
          seccomp: 'RuntimeDefault',
        });
      }
    }
  });

  it('lets only the issuer (TokenReview) and the distributor (target Secrets) mount a Kubernetes API token, each service under its own ServiceAccount', () => {
    const accounts = new Map(ofKind<IServiceAccount>(manifests, 'ServiceAccount').map((account) => [account.metadata.name, account]));
    const mounting = deployments
      .filter((deployment) => {
        const pod = podSpec(deployment);
        const account = accounts.get(pod.serviceAccountName ?? 'default');
        return (pod.automountServiceAccountToken ?? account?.automountServiceAccountToken ?? true) !== false;
      })
      .map((deployment) => deployment.metadata.name);

    expect(mounting.sort()).toEqual(API_TOKEN_SERVICES);
    for (const deployment of deployments) {
      expect(podSpec(deployment).serviceAccountName).toBe(deployment.metadata.name);
      expect(accounts.has(deployment.metadata.name)).toBe(true);
    }
  });

  it('turns TokenReview on in the issuer only, with the in-cluster configuration', () => {
    const reviewing = deployments.filter((deployment) =>
      podSpec(deployment).containers.some((container) => envValue(manifests, deployment, container, 'ROTOR_TOKEN_REVIEW') === 'true'),
    );
    expect(reviewing.map((deployment) => deployment.metadata.name)).toEqual(['issuer']);
    for (const container of reviewing.flatMap((deployment) => podSpec(deployment).containers)) {
      expect(containerEnv(manifests, ROTOR_NAMESPACE, container).has('KUBECONFIG')).toBe(false);
    }
  });

  it("binds the issuer's ServiceAccount to system:auth-delegator, and no other subject to any ClusterRole", () => {
    const grants = [...ofKind<BindingLike>(manifests, 'RoleBinding'), ...ofKind<BindingLike>(manifests, 'ClusterRoleBinding')]
      .filter((binding) => binding.roleRef.kind === 'ClusterRole')
      .flatMap((binding) =>
        (binding.subjects ?? []).map(
          (subject) => `${binding.kind}: ${subject.kind} ${subject.namespace ?? ''}/${subject.name} -> ${binding.roleRef.name}`,
        ),
      );
    expect(grants.sort()).toEqual(CLUSTER_ROLE_GRANTS);
  });

  it('reads from rotor-service-secrets exactly the keys each service needs, DATABASE_URL in the issuer and the revoker', () => {
    for (const deployment of deployments) {
      const name = deployment.metadata.name as keyof typeof SECRET_KEYS;
      for (const container of podSpec(deployment).containers) {
        const fromSecret = [...containerEnv(manifests, deployment.metadata.namespace, container)]
          .filter(([, source]) => 'secret' in source && isServiceSecret(source.secret))
          .map(([variable, source]) => `${variable}=${'key' in source ? source.key : ''}`);
        expect({ name, fromSecret: fromSecret.sort() }).toEqual({
          name,
          fromSecret: SECRET_KEYS[name].map((key) => `${key}=${key}`),
        });
      }
    }
    const databaseUrl = deployments
      .filter((deployment) =>
        podSpec(deployment).containers.every((container) => {
          const source = containerEnv(manifests, deployment.metadata.namespace, container).get('DATABASE_URL');
          return source !== undefined && 'secret' in source && isServiceSecret(source.secret);
        }),
      )
      .map((deployment) => deployment.metadata.name);
    expect(databaseUrl.sort()).toEqual(BACKEND_SERVICES);
  });

  it('gives the auditor, and only it, its own database URL as a file from a mounted Secret, and never DATABASE_URL', () => {
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      for (const container of podSpec(deployment).containers) {
        const env = containerEnv(manifests, deployment.metadata.namespace, container);
        const path = envValue(manifests, deployment, container, 'ROTOR_AUDIT_DATABASE_URL_FILE');
        const mount = (container.volumeMounts ?? []).find((candidate) => path?.startsWith(`${candidate.mountPath}/`));
        const secret = podSpec(deployment).volumes?.find((volume) => volume.name === mount?.name)?.secret;
        const relative = mount && path ? path.slice(mount.mountPath.length + 1) : undefined;
        expect({
          name,
          variables: AUDIT_DATABASE_VARIABLES.filter((variable) => env.has(variable)),
          adminUrl: ['DATABASE_URL', 'DATABASE_URL_FILE'].filter((variable) => env.has(variable)),
          file:
            name === 'auditor'
              ? {
                  readOnly: mount?.readOnly,
                  secret: secret?.secretName?.replace(/-[a-z0-9]{10}$/, ''),
                  key: secret?.items?.find((item) => item.path === relative)?.key,
                }
              : undefined,
        }).toEqual(
          name === 'auditor'
            ? {
                name,
                variables: ['ROTOR_AUDIT_DATABASE_URL_FILE'],
                adminUrl: [],
                file: { readOnly: true, secret: AUDIT_DATABASE_SECRET, key: 'database-url' },
              }
            : {
                name,
                variables: [],
                adminUrl: BACKEND_SERVICES.includes(name) ? ['DATABASE_URL'] : [],
                file: undefined,
              },
        );
      }
    }
  });

  it('covers every Deployment with a PodDisruptionBudget and a HorizontalPodAutoscaler on 70% CPU', () => {
    const budgets = ofKind<IPodDisruptionBudget>(manifests, 'PodDisruptionBudget');
    const autoscalers = ofKind<IHorizontalPodAutoscaler>(manifests, 'HorizontalPodAutoscaler');
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const budget = budgets.find(
        (candidate) =>
          candidate.metadata.namespace === deployment.metadata.namespace &&
          selects(candidate.spec?.selector?.matchLabels, podLabels(deployment)),
      );
      expect({ name, budget: budget?.metadata.name }).toEqual({ name, budget: expect.any(String) });
      expect(budget?.spec?.minAvailable ?? budget?.spec?.maxUnavailable).toBeDefined();

      const autoscaler = autoscalers.find(
        (candidate) =>
          candidate.metadata.namespace === deployment.metadata.namespace &&
          candidate.spec?.scaleTargetRef.kind === 'Deployment' &&
          candidate.spec.scaleTargetRef.name === name,
      );
      expect({ name, autoscaler: autoscaler?.metadata.name }).toEqual({ name, autoscaler: expect.any(String) });
      const cpu = autoscaler?.spec?.metrics?.find((metric) => metric.resource?.name === 'cpu')?.resource?.target;
      expect({ name, cpu }).toEqual({ name, cpu: { type: 'Utilization', averageUtilization: 70 } });
      expect(autoscaler?.spec?.minReplicas).toBeLessThanOrEqual(autoscaler?.spec?.maxReplicas ?? 0);
    }
  });

  it('serves every Deployment through a Service whose target is its container port', () => {
    const services = ofKind<IService>(manifests, 'Service');
    for (const deployment of deployments) {
      const service = services.find((candidate) => selects(candidate.spec?.selector, podLabels(deployment)));
      const targets = (service?.spec?.ports ?? []).map((port) => port.targetPort ?? port.port);
      expect({
        name: deployment.metadata.name,
        service: service?.metadata.name,
        reachesContainer: targets.length > 0 && targets.every((target) => containerPorts(deployment).has(target)),
      }).toEqual({ name: deployment.metadata.name, service: deployment.metadata.name, reachesContainer: true });
    }
  });

  it('denies ingress in the rotor namespace by default and opens only each service port', () => {
    const policies = ofKind<INetworkPolicy>(manifests, 'NetworkPolicy').filter((policy) => policy.metadata.namespace === ROTOR_NAMESPACE);
    const defaultDeny = policies.filter(
      (policy) =>
        Object.keys(policy.spec?.podSelector.matchLabels ?? {}).length === 0 &&
        (policy.spec?.podSelector.matchExpressions ?? []).length === 0 &&
        (policy.spec?.policyTypes ?? []).includes('Ingress') &&
        (policy.spec?.ingress ?? []).length === 0,
    );
    expect(defaultDeny).toHaveLength(1);

    for (const deployment of deployments) {
      const allowed = policies
        .filter((policy) => selects(policy.spec?.podSelector.matchLabels, podLabels(deployment)))
        .flatMap((policy) => policy.spec?.ingress ?? [])
        .flatMap((rule) => (rule.ports ?? []).map((port) => port.port));
      expect({ name: deployment.metadata.name, allowed: allowed.length > 0 }).toEqual({
        name: deployment.metadata.name,
        allowed: true,
      });
      for (const port of allowed) {
        expect({
          name: deployment.metadata.name,
          port,
          declared: port !== undefined && containerPorts(deployment).has(port),
        }).toEqual({ name: deployment.metadata.name, port, declared: true });
      }
    }
  });

  it('mounts the rotor-jwks ConfigMap at the path ROTOR_JWKS names, and sets the token issuer and audience, in every service', () => {
    const jwks = generated(manifests, 'rotor-jwks');
    const config = generated(manifests, 'rotor-config');
    expect(JSON.parse(jwks?.data?.['jwks.json'] ?? 'null')).toEqual({ keys: expect.any(Array) });

    for (const deployment of deployments.filter((candidate) => candidate.metadata.name !== INJECTOR)) {
      for (const container of podSpec(deployment).containers) {
        const where = `${deployment.metadata.name}/${container.name}`;
        const value = (name: string) => envValue(manifests, deployment, container, name);
        const path = value('ROTOR_JWKS');
        expect({
          where,
          absolute: path !== undefined && isAbsolute(path),
          mounted: mountedConfigMap(deployment, container, path),
          issuer: value('ROTOR_TOKEN_ISSUER'),
          audience: value('ROTOR_TOKEN_AUDIENCE'),
        }).toEqual({
          where,
          absolute: true,
          mounted: { configMap: jwks?.metadata.name ?? '(no rotor-jwks ConfigMap)', subPath: 'jwks.json' },
          issuer: expect.stringMatching(/^https:\/\//),
          audience: expect.stringMatching(/.+/),
        });
        expect(container.envFrom?.map((source) => source.configMapRef?.name)).toContain(config?.metadata.name);
      }
    }
  });

  it('mounts the rotor-catalog ConfigMap at the path ROTOR_CATALOG names, only in the services that read it', () => {
    const catalog = generated(manifests, 'rotor-catalog');
    expect(catalog?.data?.['catalog.yaml']).toBeDefined();

    const mounting = deployments.filter((deployment) =>
      (podSpec(deployment).volumes ?? []).some((volume) => volume.configMap?.name === catalog?.metadata.name),
    );
    expect(mounting.map((deployment) => deployment.metadata.name).sort()).toEqual(CATALOG_READERS);

    for (const deployment of deployments) {
      for (const container of podSpec(deployment).containers) {
        const where = `${deployment.metadata.name}/${container.name}`;
        const path = envValue(manifests, deployment, container, 'ROTOR_CATALOG');
        if (!CATALOG_READERS.includes(deployment.metadata.name)) {
          expect({ where, path }).toEqual({ where, path: undefined });
          continue;
        }
        expect({ where, path, mounted: mountedConfigMap(deployment, container, path) }).toEqual({
          where,
          path: CATALOG_PATH,
          mounted: { configMap: catalog?.metadata.name ?? '(no rotor-catalog ConfigMap)', subPath: 'catalog.yaml' },
        });
      }
    }
  });

  it("ships a catalog that the services' own catalog parser accepts", () => {
    const catalog = ofKind<IConfigMap>(manifests, 'ConfigMap').find((configMap) => configMap.metadata.name.startsWith('rotor-catalog'));
    const parsed = parseCatalog(catalog?.data?.['catalog.yaml'] ?? '', `${dir} rotor-catalog`);
    expect(parsed.roles.length + parsed.managedSecrets.length).toBeGreaterThan(0);
  });

  it('refers only to ConfigMaps it renders', () => {
    const rendered = new Set(ofKind<IConfigMap>(manifests, 'ConfigMap').map((configMap) => configMap.metadata.name));
    const referenced = deployments.flatMap((deployment) => {
      const pod = podSpec(deployment);
      return [
        ...(pod.volumes ?? []).flatMap((volume) => (volume.configMap ? [volume.configMap.name] : [])),
        ...pod.containers.flatMap((container) => [
          ...(container.envFrom ?? []).flatMap((source) => (source.configMapRef ? [source.configMapRef.name] : [])),
          ...(container.env ?? []).flatMap((env) => (env.valueFrom?.configMapKeyRef ? [env.valueFrom.configMapKeyRef.name] : [])),
        ]),
      ];
    });
    expect(referenced.length).toBeGreaterThan(0);
    expect(referenced.filter((name) => name === undefined || !rendered.has(name))).toEqual([]);
  });
});

describe('the injector webhook (k8s/injector, in the local overlay)', () => {
  let manifests: Manifest[];
  let webhooks: (IMutatingWebhookConfiguration & Manifest)[];
  let injector: IDeployment & Manifest;

  beforeAll(() => {
    manifests = renderKustomize('k8s/overlays/local').manifests;
    webhooks = ofKind<IMutatingWebhookConfiguration>(manifests, 'MutatingWebhookConfiguration');
    injector = ofKind<IDeployment>(manifests, 'Deployment').find((deployment) => deployment.metadata.name === INJECTOR)!;
  });

  it('registers one mutating webhook for pod creation: AdmissionReview v1, no side effects, fail closed, reinvoked if needed, 5 s', () => {
    expect(webhooks).toHaveLength(1);
    expect(webhooks[0]?.webhooks).toEqual([
      expect.objectContaining({
        name: 'inject.rotor.dev',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        reinvocationPolicy: 'IfNeeded',
        timeoutSeconds: 5,
        rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'], scope: 'Namespaced' }],
      }),
    ]);
  });

  it('sends only namespaces labelled rotor.dev/injection=enabled, never rotor itself (it could not restart while down)', () => {
    const selector = webhooks[0]?.webhooks?.[0]?.namespaceSelector;
    expect(selector?.matchLabels).toEqual({ 'rotor.dev/injection': 'enabled' });
    expect(selector?.matchExpressions).toContainEqual({
      key: 'kubernetes.io/metadata.name',
      operator: 'NotIn',
      values: expect.arrayContaining([ROTOR_NAMESPACE, 'kube-system']),
    });
    const rotor = manifests.find((manifest) => manifest.kind === 'Namespace' && manifest.metadata.name === ROTOR_NAMESPACE);
    expect(selects(selector?.matchLabels, rotor?.metadata.labels)).toBe(false);
  });

  it("calls POST /mutate on the injector's Service, whose port reaches the container's HTTPS listener, with the CA from its certificate", () => {
    const webhook = webhooks[0]!;
    const client = webhook.webhooks?.[0]?.clientConfig.service;
    expect(client).toMatchObject({ name: INJECTOR, namespace: ROTOR_NAMESPACE, path: '/mutate' });
    expect((webhook.metadata?.annotations ?? {})['cert-manager.io/inject-ca-from']).toBe(`${ROTOR_NAMESPACE}/injector-tls`);
    const service = ofKind<IService>(manifests, 'Service').find(
      (candidate) => candidate.metadata.name === client?.name && candidate.metadata.namespace === client?.namespace,
    );
    const port = service?.spec?.ports?.find((candidate) => candidate.port === (client?.port ?? 443));
    expect(port?.targetPort).toBeDefined();
    expect(containerPorts(injector).has(port!.targetPort!)).toBe(true);

    const container = podSpec(injector).containers[0]!;
    const value = (name: string) => envValue(manifests, injector, container, name);
    const declared = container.ports?.find(
      (candidate) => candidate.name === port?.targetPort || candidate.containerPort === port?.targetPort,
    );
    expect(value('PORT')).toBe(String(declared?.containerPort));
    expect(value('ROTOR_INSECURE_LOCAL')).toBeUndefined();
    const cert = value('ROTOR_TLS_CERT_FILE');
    const mount = container.volumeMounts?.find((candidate) => cert?.startsWith(`${candidate.mountPath}/`));
    expect(mount).toMatchObject({ readOnly: true });
    expect(mount?.subPath).toBeUndefined();
    expect(podSpec(injector).volumes?.find((volume) => volume.name === mount?.name)?.secret?.secretName).toBe('injector-tls');
    expect(value('ROTOR_TLS_KEY_FILE')).toBe(`${mount?.mountPath}/tls.key`);
  });

  it("gives the agent its own image, built and tagged on this machine like the injector's, and the issuer's Service address", () => {
    const container = podSpec(injector).containers[0]!;
    const value = (name: string) => envValue(manifests, injector, container, name);
    expect({ injector: container.image, agent: value('ROTOR_AGENT_IMAGE') }).toEqual({
      injector: 'rotor:local',
      agent: 'rotor-agent:local',
    });
    const issuerUrl = new URL(value('ROTOR_AGENT_ISSUER_URL') ?? 'https://unset');
    expect(issuerUrl.protocol).toBe('https:');
    const issuer = ofKind<IService>(manifests, 'Service').find((service) => service.metadata.name === 'issuer');
    expect(issuerUrl.hostname).toBe(`issuer.${issuer?.metadata.namespace}.svc`);
    expect(issuer?.spec?.ports?.map((port) => String(port.port))).toContain(issuerUrl.port);
  });
});

/** [deployment, env var, secret name, key] for every secretKeyRef. */
function secretRefs(deployments: IDeployment[]) {
  return deployments.flatMap((deployment) =>
    podSpec(deployment).containers.flatMap((container) =>
      (container.env ?? []).flatMap((env) => {
        const ref = env.valueFrom?.secretKeyRef;
        return ref ? [{ deployment: deployment.metadata?.name, env: env.name, secret: ref.name, key: ref.key }] : [];
      }),
    ),
  );
}

describe('Kubernetes base', () => {
  let manifests: Manifest[];

  beforeAll(() => {
    manifests = renderKustomize('k8s/base').manifests;
  });

  it('ships no Secret, so credentials never come from a file in git', () => {
    expect(ofKind<ISecret>(manifests, 'Secret').map(id)).toEqual([]);
  });

  it('reads secret values only from the out-of-band Secret rotor-service-secrets', () => {
    const refs = secretRefs(ofKind<IDeployment>(manifests, 'Deployment'));
    expect(refs.map((ref) => `${ref.deployment}:${ref.env}`).sort()).toEqual([
      'auditor:ROTOR_AUDIT_KEY',
      'distributor:ROTOR_CONTENT_HASH_KEY',
      'issuer:DATABASE_URL',
      'issuer:ROTOR_TOKEN_HASH_KEY',
      'revoker:DATABASE_URL',
    ]);
    expect(new Set(refs.map((ref) => ref.secret))).toEqual(new Set([OUT_OF_BAND_SECRET]));
  });

  it('grants no rotor identity write access to Secrets', () => {
    const { writers, unresolved } = secretWriters(manifests);
    expect(unresolved).toEqual([]);
    expect(writers).toEqual([]);
  });
});

describe('Kubernetes local overlay', () => {
  let manifests: Manifest[];

  beforeAll(() => {
    manifests = renderKustomize('k8s/overlays/local').manifests;
  });

  it("binds a Role that can write Secrets to the distributor's ServiceAccount only, and only outside the rotor namespace", () => {
    const { writers, unresolved } = secretWriters(manifests);
    expect(unresolved).toEqual([]);
    expect(writers.length).toBeGreaterThan(0);
    expect([...new Set(writers.map((writer) => writer.subject))]).toEqual([`ServiceAccount ${ROTOR_NAMESPACE}/distributor`]);
    expect(writers.map((writer) => writer.scope)).not.toContain(ROTOR_NAMESPACE);
    expect(writers.map((writer) => writer.scope)).not.toContain('(cluster)');
  });

  it('generates a development Secret that holds every key the Deployments read', () => {
    const secrets = ofKind<ISecret>(manifests, 'Secret');
    const refs = secretRefs(ofKind<IDeployment>(manifests, 'Deployment'));
    expect(refs.length).toBeGreaterThan(0);
    const missing = refs.filter((ref) => {
      const secret = secrets.find((candidate) => candidate.metadata.name === ref.secret);
      return secret === undefined || (secret.data?.[ref.key] ?? secret.stringData?.[ref.key]) === undefined;
    });
    expect(missing).toEqual([]);
  });

  it("generates the auditor's database Secret with a URL of its own role and database, not DATABASE_URL's", () => {
    const secrets = ofKind<ISecret>(manifests, 'Secret');
    const auditor = ofKind<IDeployment>(manifests, 'Deployment').find((deployment) => deployment.metadata.name === 'auditor');
    const volumes = auditor ? podSpec(auditor).volumes : undefined;
    const secretName = volumes?.find((volume) => volume.secret?.secretName?.startsWith(AUDIT_DATABASE_SECRET))?.secret?.secretName;
    const decode = (secret: ISecret | undefined, key: string) => {
      const data = secret?.data?.[key];
      return data === undefined ? secret?.stringData?.[key] : Buffer.from(data, 'base64').toString('utf8');
    };
    const auditUrl = new URL(
      decode(
        secrets.find((secret) => secret.metadata?.name === secretName),
        'database-url',
      ) ?? 'invalid:',
    );
    const adminUrl = new URL(
      decode(
        secrets.find((secret) => isServiceSecret(secret.metadata?.name)),
        'DATABASE_URL',
      ) ?? 'invalid:',
    );
    expect({ user: auditUrl.username, database: auditUrl.pathname }).toEqual({ user: 'rotor_auditor', database: '/rotor_audit' });
    expect({ user: adminUrl.username, database: adminUrl.pathname }).not.toEqual({ user: auditUrl.username, database: auditUrl.pathname });
  });

  it('runs one replica of each service from the locally built image, and never autoscales below it', () => {
    const deployments = ofKind<IDeployment>(manifests, 'Deployment');
    for (const deployment of deployments) {
      expect({ name: deployment.metadata.name, replicas: deployment.spec?.replicas }).toEqual({
        name: deployment.metadata.name,
        replicas: 1,
      });
      expect(podSpec(deployment).containers.map((container) => container.image)).toEqual(['rotor:local']);
    }
    for (const autoscaler of ofKind<IHorizontalPodAutoscaler>(manifests, 'HorizontalPodAutoscaler')) {
      expect(autoscaler.spec?.minReplicas).toBe(1);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Docker
// ---------------------------------------------------------------------------------------

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: Record<string, string | number> | string[];
  ports?: (string | { target: number })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { type?: string; source?: string; target: string; read_only?: boolean })[];
}

/** Bind mounts of a compose service as {source, target, readOnly}; named volumes have a source without `./`. */
function composeMounts(service: ComposeService | undefined) {
  return (service?.volumes ?? []).map((volume) => {
    if (typeof volume !== 'string') {
      return { source: volume.source, target: volume.target, readOnly: volume.read_only === true };
    }
    const [source, target, mode] = volume.split(':');
    return { source, target, readOnly: (mode ?? '').split(',').includes('ro') };
  });
}

describe('docker-compose.yml', () => {
  // Compose honours YAML merge keys (`<<:`); so must the parser.
  const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const INFRASTRUCTURE = ['kafka', 'redis', 'gsm-emulator'];

  function environment(name: string): Record<string, string | number> {
    const env = compose.services[name]?.environment;
    expect(Array.isArray(env)).toBe(false);
    return (env ?? {}) as Record<string, string | number>;
  }

  /** The repository file mounted read-only at `path` in a service, if any. */
  function mountedFile(name: string, path: string | number | undefined) {
    const mount = composeMounts(compose.services[name]).find((candidate) => candidate.target === String(path));
    const source = mount?.source;
    return source?.startsWith('./') && mount?.readOnly && existsSync(join(repoRoot, source)) ? source : undefined;
  }

  it('mounts the JWKS file ROTOR_JWKS names, and sets the token issuer and audience, in every rotor service', () => {
    for (const name of SERVICES) {
      const env = environment(name);
      const source = mountedFile(name, env.ROTOR_JWKS);
      expect({ name, jwks: env.ROTOR_JWKS, source }).toEqual({
        name,
        jwks: expect.stringMatching(/^\//),
        source: expect.any(String),
      });
      const keySet = JSON.parse(readFileSync(join(repoRoot, source ?? ''), 'utf8')) as { keys?: unknown[] };
      expect(keySet.keys?.length).toBeGreaterThan(0);
      expect({ name, issuer: env.ROTOR_TOKEN_ISSUER, audience: env.ROTOR_TOKEN_AUDIENCE }).toEqual({
        name,
        issuer: expect.stringMatching(/.+/),
        audience: expect.stringMatching(/.+/),
      });
    }
  });

  it('mounts the catalog ROTOR_CATALOG names only in the services that read it', () => {
    for (const name of SERVICES) {
      const env = environment(name);
      const catalogMounted = composeMounts(compose.services[name]).some((mount) => mount.source?.endsWith('catalog.yaml'));
      expect({
        name,
        catalog: env.ROTOR_CATALOG,
        source: mountedFile(name, env.ROTOR_CATALOG),
        catalogMounted,
      }).toEqual(
        CATALOG_READERS.includes(name)
          ? { name, catalog: CATALOG_PATH, source: './config/catalog.yaml', catalogMounted: true }
          : { name, catalog: undefined, source: undefined, catalogMounted: false },
      );
    }
  });

  it('keeps TokenReview off, since compose runs no Kubernetes API server', () => {
    for (const name of SERVICES) {
      expect({ name, review: environment(name).ROTOR_TOKEN_REVIEW ?? 'false' }).toEqual({ name, review: 'false' });
    }
  });

  // DATABASE_URL holds a password generated by the `pki` service, so compose names the file it
  // is in (DATABASE_URL_FILE, exported by infra/compose/rotor-entrypoint.sh); the URL itself,
  // postgres://…@postgres:5432/… with sslmode=verify-full, is checked in compose-secure.spec.ts.
  it('gives the services that run credential backends DATABASE_URL (from a file), the auditor its own database URL (from a file) and never DATABASE_URL, and starts them only once PostgreSQL reports healthy', () => {
    for (const name of SERVICES) {
      const dependsOn = compose.services[name]?.depends_on as Record<string, { condition?: string }> | undefined;
      const backend = BACKEND_SERVICES.includes(name);
      const auditor = name === 'auditor';
      expect({
        name,
        databaseUrl: environment(name).DATABASE_URL,
        databaseUrlFile: environment(name).DATABASE_URL_FILE,
        auditDatabaseUrl: environment(name).ROTOR_AUDIT_DATABASE_URL,
        auditDatabaseUrlFile: environment(name).ROTOR_AUDIT_DATABASE_URL_FILE,
        postgres: dependsOn?.postgres?.condition,
      }).toEqual({
        name,
        databaseUrl: undefined,
        databaseUrlFile: backend ? expect.stringMatching(/^\/etc\/rotor\/secrets\//) : undefined,
        auditDatabaseUrl: undefined,
        auditDatabaseUrlFile: auditor ? expect.stringMatching(/^\/etc\/rotor\/secrets\//) : undefined,
        postgres: backend || auditor ? 'service_healthy' : undefined,
      });
    }
  });

  it('starts every rotor service only once Kafka, Redis and the GSM emulator report healthy', () => {
    for (const name of SERVICES) {
      const dependsOn = compose.services[name]?.depends_on;
      expect(Array.isArray(dependsOn)).toBe(false);
      const conditions = Object.fromEntries(
        INFRASTRUCTURE.map((dependency) => [
          dependency,
          (dependsOn as Record<string, { condition?: string }> | undefined)?.[dependency]?.condition,
        ]),
      );
      expect({ name, conditions }).toEqual({
        name,
        conditions: Object.fromEntries(INFRASTRUCTURE.map((dependency) => [dependency, 'service_healthy'])),
      });
    }
  });

  it('gives every service that something waits on a healthcheck', () => {
    const awaited = new Set(
      Object.values(compose.services).flatMap((service) =>
        Object.entries(service.depends_on ?? {})
          .filter(([, dependency]) => (dependency as { condition?: string }).condition === 'service_healthy')
          .map(([dependency]) => dependency),
      ),
    );
    expect([...awaited].sort()).toEqual(expect.arrayContaining(INFRASTRUCTURE));
    for (const dependency of awaited) {
      const healthcheck = compose.services[dependency]?.healthcheck;
      expect({ dependency, test: healthcheck?.disable ? undefined : healthcheck?.test }).toEqual({
        dependency,
        test: expect.anything(),
      });
    }
  });

  it('builds each rotor service from the root Dockerfile, with SERVICE set to its own name and its port published', () => {
    const ports: Record<(typeof SERVICES)[number], number> = {
      issuer: 8080,
      revoker: 8081,
      distributor: 8082,
      auditor: 8083,
    };
    for (const name of SERVICES) {
      const service = compose.services[name];
      const build = typeof service?.build === 'string' ? { context: service.build } : service?.build;
      const environment = service?.environment;
      expect(Array.isArray(environment)).toBe(false);
      const env = (environment ?? {}) as Record<string, string | number>;
      const published = (service?.ports ?? []).map((port) => (typeof port === 'string' ? Number(port.split(':').pop()) : port.target));
      expect({
        name,
        context: build?.context,
        dockerfile: build?.dockerfile ?? 'Dockerfile',
        SERVICE: env.SERVICE,
        PORT: String(env.PORT),
        published,
      }).toEqual({
        name,
        context: '.',
        dockerfile: 'Dockerfile',
        SERVICE: name,
        PORT: String(ports[name]),
        published: [ports[name]],
      });
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args = new Map(
    instructions.flatMap((line) => {
      const arg = /^ARG\s+(\w+)=(\S+)/i.exec(line);
      return arg?.[1] && arg[2] ? [[arg[1], arg[2]] as const] : [];
    }),
  );

  /** Each stage: its name, what it is built FROM (`${ARG}` replaced by the ARG's default) and its instructions. */
  const stages = instructions.flatMap((line, at) => {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (!from) return [];
    const next = instructions.findIndex((other, index) => index > at && /^FROM\s/i.test(other));
    return [
      {
        name: from[2] ?? '',
        from: (from[1] ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a?: string, b?: string) => args.get(a ?? b ?? '') ?? ''),
        lines: instructions.slice(at + 1, next < 0 ? undefined : next),
      },
    ];
  });
  const stage = (name: string) => stages.find((candidate) => candidate.name === name);
  /** A stage's image and its instructions with those of the stages it is built on, oldest first. */
  function image(name: string): { base: string; lines: string[] } {
    const own = stage(name);
    if (!own) throw new Error(`no stage ${name}`);
    if (!stage(own.from)) return { base: own.from, lines: own.lines };
    const parent = image(own.from);
    return { base: parent.base, lines: [...parent.lines, ...own.lines] };
  }

  it('builds and runs on the Node.js major that package.json engines allows', () => {
    const engines = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const major = /^>=(\d+)\s+<(\d+)$/.exec(engines);
    expect(major).not.toBeNull();
    expect(Number(major?.[2])).toBe(Number(major?.[1]) + 1);
    expect(stages.map(({ name }) => name)).toEqual(['build', 'base', 'agent', 'runtime']);
    for (const { name } of stages) expect({ name, base: image(name).base }).toEqual({ name, base: `node:${major?.[1]}-bookworm-slim` });
  });

  it('runs as the non-root user 10001 with production dependencies only', () => {
    // Last: what `docker build .` and docker-compose.yml build without a target.
    expect(stages.at(-1)?.name).toBe('runtime');
    const runtime = image('runtime').lines;
    expect(runtime.filter((line) => /^USER\s/i.test(line))).toEqual(['USER 10001:10001']);
    expect(runtime.some((line) => /^RUN\s.*useradd --system --uid 10001 --gid 10001\b/.test(line))).toBe(true);
    expect(runtime.some((line) => /^RUN\s.*npm ci\b.*--omit=dev/.test(line))).toBe(true);
    expect(runtime).toContain('ENV NODE_ENV=production');
  });

  it('builds the agent image from the bundle alone, run by tini as the non-root user 10001 with its mode as argument', () => {
    const agent = image('agent').lines;
    const bundle = `/app/dist/agent/${AGENT_BUNDLE}`;
    // npm run build (scripts/build.sh) bundles the agent into dist/agent, where the image takes it from.
    expect(readFileSync(join(repoRoot, 'scripts', 'build.sh'), 'utf8')).toMatch(
      /^"\$node" -r @swc-node\/register tools\/agent-build\/build\.ts --out "\$out\/agent"$/m,
    );
    // Nothing else of rotor: no node_modules, no compiled services.
    const copies = agent.filter((line) => /^(COPY|ADD)\s/i.test(line));
    expect(copies).toEqual([`COPY --from=build --chmod=0755 ${bundle} /usr/local/bin/rotor-agent`]);
    expect(agent.filter((line) => /\bnpm\b/.test(line))).toEqual([]);
    expect(agent.filter((line) => /^USER\s/i.test(line))).toEqual(['USER 10001:10001']);
    expect(agent.some((line) => /^RUN\s.*useradd --system --uid 10001 --gid 10001\b/.test(line))).toBe(true);
    expect(agent.some((line) => /^RUN\s.*apt-get install\b.*"tini=\$\{TINI_VERSION\}"/.test(line))).toBe(true);
    // The pod's args (the injector's `[<mode>]`) follow the entrypoint: no CMD to replace.
    const entrypoints = agent.filter((line) => /^ENTRYPOINT\s/i.test(line));
    expect(entrypoints.map((line) => JSON.parse(line.replace(/^ENTRYPOINT\s+/i, '')) as unknown)).toEqual([
      ['/usr/bin/tini', '--', '/usr/local/bin/rotor-agent'],
    ]);
    expect(agent.filter((line) => /^CMD\s/i.test(line))).toEqual([]);
    // Checked before USER: a bundle that cannot start fails the image build, not a pod.
    const check = agent.indexOf('RUN rotor-agent --help >/dev/null');
    expect(check).toBeGreaterThan(agent.indexOf(copies[0]!));
    expect(check).toBeLessThan(agent.findIndex((line) => /^USER\s/i.test(line)));
  });

  it('installs the self-contained CLI bundle that npm run build writes as rotor on PATH, and runs it once while building', () => {
    const from = instructions.findLastIndex((line) => /^FROM\s/i.test(line));
    const build = instructions.slice(0, from);
    const runtime = instructions.slice(from);
    expect(build).toContain('RUN npm run build');
    // npm run build (scripts/build.sh) bundles the CLI into dist/cli, where the image takes it from.
    expect(readFileSync(join(repoRoot, 'scripts', 'build.sh'), 'utf8')).toMatch(
      /^"\$node" -r @swc-node\/register tools\/cli-build\/build\.ts --out "\$out\/cli"$/m,
    );
    const install = runtime.filter((line) => /^COPY\s.*\/usr\/local\/bin\/rotor$/.test(line));
    expect(install).toEqual(['COPY --from=build --chmod=0755 /app/dist/cli/rotor.js /usr/local/bin/rotor']);
    // Checked before USER: a bundle that cannot start fails the image build, not an operator's shell.
    const check = runtime.indexOf('RUN rotor version >/dev/null');
    expect(check).toBeGreaterThan(runtime.indexOf(install[0]!));
    expect(check).toBeLessThan(runtime.findIndex((line) => /^USER\s/i.test(line)));
  });
});
