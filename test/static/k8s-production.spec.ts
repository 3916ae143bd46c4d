/**
 * Static checks of the production overlay, k8s/overlays/production, rendered by
 * `kubectl kustomize` (no cluster needed; `kubectl` must be on the PATH).
 *
 * Objects with a schema in kubernetes-models are validated against it; the cert-manager
 * Certificates and External Secrets ExternalSecrets (CRDs, no schema there) are checked
 * field by field. The deployment checks follow each setting to what provides it: a file
 * path to the volume mounted there and the Secret key behind it, the Secret to the
 * Certificate or ExternalSecret that writes it, a NetworkPolicy port name to the
 * container port of every pod the policy selects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { KAFKA_PRINCIPALS, REDIS_ACCESS, REDIS_ACL_ADMIN } from '@rotor/contracts';
import { parse } from 'yaml';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

import { type Manifest, manifestId as id, ofKind, renderKustomize, typeOf, validationErrors } from '../support/kustomize';

const OVERLAY = 'k8s/overlays/production';

const NAMESPACE = 'rotor';
const SERVICES = ['auditor', 'distributor', 'issuer', 'revoker'];
/** The admission webhook (k8s/injector): no Kafka, Redis, GSM or catalog; the API server calls it. */
const INJECTOR = 'injector';
/** settings.yaml spec.kubernetesApi.cidr as committed (a placeholder): the API server's address. */
const KUBERNETES_API_CIDR = '192.0.2.1/32';
/** Services that run the credential backends: DATABASE_URL and the redis-acl backend's Redis. */
const BACKEND_SERVICES = ['issuer', 'revoker'];
/** The auditor's own database (apps/auditor/src/config.ts): a file, never DATABASE_URL. */
const AUDIT_DATABASE_VARIABLES = ['ROTOR_AUDIT_DATABASE_URL', 'ROTOR_AUDIT_DATABASE_URL_FILE'];
/** Services that call Google Secret Manager (the auditor never does). */
const GSM_SERVICES = ['auditor', 'distributor', 'issuer', 'revoker'];
const PORTS = { https: 8443, operator: 9443 };
const CLUSTER_ISSUER = 'rotor-ca-issuer';
const CERTIFICATE_KEYS = ['ca.crt', 'tls.crt', 'tls.key'];
/** Custom resources: no schema in kubernetes-models, checked field by field below. */
const CERTIFICATE = 'cert-manager.io/v1/Certificate';
/** The revoker's pod sweep talks to the API server through this file's CoreV1Api calls, and nothing else. */
const POD_LISTER_SOURCE = join(__dirname, '..', '..', 'libs/kube-client/src/pod-lister.ts');
/** What each CoreV1Api call the pod lister may make needs, as `<apiGroup>/<resource>:<verb>`. */
const RBAC_OF_CALL: Record<string, string> = {
  listNamespacedPod: '/pods:list',
  listPodForAllNamespaces: '/pods:list',
  readNamespacedPod: '/pods:get',
};
/** Where the in-cluster configuration (@kubernetes/client-node loadFromCluster) reads the token, CA and namespace. */
const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const EXTERNAL_SECRET = 'external-secrets.io/v1/ExternalSecret';

// ---------------------------------------------------------------------------------------
// Pods: environment, mounts, ports
// ---------------------------------------------------------------------------------------

type Deploy = IDeployment & Manifest;

function podSpec(deployment: IDeployment) {
  const spec = deployment.spec?.template.spec;
  if (!spec) throw new Error(`Deployment ${deployment.metadata?.name} has no pod spec`);
  return spec;
}
type Container = ReturnType<typeof podSpec>['containers'][number];

const podLabels = (deployment: IDeployment) => deployment.spec?.template.metadata?.labels ?? {};

/** Where a variable comes from once Kubernetes has merged `envFrom` (ConfigMaps) and `env`. */
type EnvSource = { value: string } | { secret: string; key: string } | { other: true };

function containerEnv(manifests: Manifest[], container: Container): Map<string, EnvSource> {
  const env = new Map<string, EnvSource>();
  for (const source of container.envFrom ?? []) {
    const configMap = ofKind<IConfigMap>(manifests, 'ConfigMap').find((candidate) => candidate.metadata.name === source.configMapRef?.name);
    for (const [key, value] of Object.entries(configMap?.data ?? {})) env.set((source.prefix ?? '') + key, { value });
    if (source.secretRef) throw new Error(`envFrom a Secret (${source.secretRef.name}) is not expected here`);
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) env.set(variable.name, { secret: ref.name ?? '', key: ref.key });
    else if (variable.valueFrom) env.set(variable.name, { other: true });
    else env.set(variable.name, { value: variable.value ?? '' });
  }
  return env;
}

/** The one container of a rotor Deployment and its resolved environment. */
function only(manifests: Manifest[], deployment: Deploy) {
  const containers = podSpec(deployment).containers;
  expect({ name: deployment.metadata.name, containers: containers.length }).toEqual({
    name: deployment.metadata.name,
    containers: 1,
  });
  const container = containers[0] as Container;
  const env = containerEnv(manifests, container);
  const value = (name: string) => {
    const source = env.get(name);
    return source && 'value' in source ? source.value : undefined;
  };
  return { container, env, value };
}

/**
 * The Secret key a file path in the container reads, through the volume mounted at (or
 * above) that path: `{secret, key, subPath}`, or a description of why there is none.
 */
function fileSource(deployment: IDeployment, container: Container, path: string | undefined) {
  if (path === undefined) return 'unset';
  const mount = (container.volumeMounts ?? [])
    .filter((candidate) => path === candidate.mountPath || path.startsWith(`${candidate.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!mount) return `nothing mounted at ${path}`;
  const secret = podSpec(deployment).volumes?.find((volume) => volume.name === mount.name)?.secret;
  if (!secret?.secretName) return `volume ${mount.name} at ${mount.mountPath} is not a Secret`;
  const relative = mount.subPath !== undefined ? mount.subPath : path.slice(mount.mountPath.length + 1);
  const key = secret.items ? secret.items.find((item) => item.path === relative)?.key : relative;
  if (key === undefined) return `${path}: no item of Secret ${secret.secretName} is projected there`;
  return { secret: secret.secretName, key, subPath: mount.subPath };
}

/** The container port named `name`, its number. */
const namedPort = (container: Container, name: string) => container.ports?.find((port) => port.name === name)?.containerPort;

// ---------------------------------------------------------------------------------------
// Secrets: who writes them, with which keys
// ---------------------------------------------------------------------------------------

interface Certificate extends Manifest {
  spec?: {
    secretName?: string;
    dnsNames?: string[];
    duration?: string;
    renewBefore?: string;
    usages?: string[];
    privateKey?: { algorithm?: string; size?: number; rotationPolicy?: string };
    issuerRef?: { name?: string; kind?: string; group?: string };
  };
}

interface ExternalSecret extends Manifest {
  spec?: {
    refreshInterval?: string;
    secretStoreRef?: { kind?: string; name?: string };
    target?: {
      name?: string;
      creationPolicy?: string;
      template?: { engineVersion?: string; mergePolicy?: string; data?: Record<string, string> };
    };
    data?: { secretKey?: string; remoteRef?: { key?: string } }[];
    dataFrom?: unknown[];
  };
}

/** Every Secret the overlay has written for it, with the keys it will hold. */
function writtenSecrets(manifests: Manifest[]): Map<string, { by: string; keys: string[] }> {
  const written = new Map<string, { by: string; keys: string[] }>();
  const add = (name: string | undefined, by: string, keys: string[]) => {
    if (!name) return;
    if (written.has(name)) throw new Error(`Secret ${name} is written by ${written.get(name)?.by} and ${by}`);
    written.set(name, { by, keys });
  };
  for (const certificate of ofKind<Certificate>(manifests, 'Certificate'))
    add(certificate.spec?.secretName, id(certificate), CERTIFICATE_KEYS);
  for (const external of ofKind<ExternalSecret>(manifests, 'ExternalSecret')) {
    const template = external.spec?.target?.template;
    // With a template (and the default mergePolicy Replace) the Secret holds the template's keys only.
    const keys =
      template?.data && (template.mergePolicy ?? 'Replace') === 'Replace'
        ? Object.keys(template.data)
        : (external.spec?.data ?? []).map((entry) => entry.secretKey ?? '');
    add(external.spec?.target?.name ?? external.metadata.name, id(external), keys);
  }
  return written;
}

/** A file variable resolved through its mount to a Secret key that the overlay writes. */
function fileFromWrittenSecret(
  manifests: Manifest[],
  deployment: Deploy,
  container: Container,
  path: string | undefined,
): { secret: string; key: string; subPath: string | undefined } | string {
  const source = fileSource(deployment, container, path);
  if (typeof source === 'string') return source;
  const written = writtenSecrets(manifests).get(source.secret);
  if (!written) return `Secret ${source.secret} is written by nothing in the overlay`;
  if (!written.keys.includes(source.key)) return `${written.by} writes no key ${source.key}`;
  return source;
}

// ---------------------------------------------------------------------------------------
// NetworkPolicies
// ---------------------------------------------------------------------------------------

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Kubernetes label-selector semantics: an empty selector selects everything. */
function matches(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpressions = (selector.matchExpressions ?? []).every((expression) => {
    const value = labels[expression.key];
    switch (expression.operator) {
      case 'In':
        return value !== undefined && (expression.values ?? []).includes(value);
      case 'NotIn':
        return value === undefined || !(expression.values ?? []).includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        throw new Error(`unknown selector operator ${expression.operator}`);
    }
  });
  return byLabels && byExpressions;
}

const isEmptySelector = (selector: Selector | undefined) =>
  selector !== undefined && Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;

function describeSelector(selector: Selector) {
  const terms = [
    ...Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`),
    ...(selector.matchExpressions ?? []).map(
      (expression) => `${expression.key} ${expression.operator} (${(expression.values ?? []).join(',')})`,
    ),
  ];
  return `{${terms.sort().join(',')}}`;
}

/** A peer as one readable string: namespace and pod selectors are ANDed within a peer. */
function describePeer(peer: INetworkPolicyPeer) {
  if (peer.ipBlock) {
    const except = peer.ipBlock.except?.length ? ` except ${[...peer.ipBlock.except].sort().join(',')}` : '';
    return `ip ${peer.ipBlock.cidr}${except}`;
  }
  const parts = [
    ...(peer.namespaceSelector ? [`namespace${describeSelector(peer.namespaceSelector)}`] : []),
    ...(peer.podSelector ? [`pod${describeSelector(peer.podSelector)}`] : []),
  ];
  return parts.join(' ');
}

type Policy = INetworkPolicy & Manifest;

const policiesSelecting = (policies: Policy[], deployment: IDeployment) =>
  policies.filter((policy) => matches(policy.spec?.podSelector, podLabels(deployment)));

/** Whether a rule's ports reach the container port `name` (no ports: every port). */
function reachesPort(ports: INetworkPolicyPort[] | undefined, container: Container, name: string) {
  if (!ports || ports.length === 0) return true;
  const number = namedPort(container, name);
  return ports.some((port) => {
    if (port.port === undefined) return true;
    if (port.port === name) return true;
    if (typeof port.port === 'number' && number !== undefined)
      return port.endPort !== undefined ? number >= port.port && number <= port.endPort : number === port.port;
    return false;
  });
}

/** Everyone whom the rendered policies let reach `name` on a Deployment's pods. */
function ingressPeers(policies: Policy[], deployment: IDeployment, container: Container, name: string) {
  const peers = policiesSelecting(policies, deployment)
    .flatMap((policy) => policy.spec?.ingress ?? [])
    .filter((rule) => reachesPort(rule.ports, container, name))
    .flatMap((rule) => (rule.from && rule.from.length > 0 ? rule.from.map(describePeer) : ['(anyone)']));
  return [...new Set(peers)].sort();
}

/** Every destination and port a Deployment's pods may open: `<peer> <PROTOCOL>/<port>`. */
function egressDestinations(policies: Policy[], deployment: IDeployment) {
  const destinations = policiesSelecting(policies, deployment)
    .flatMap((policy) => policy.spec?.egress ?? [])
    .flatMap((rule) => {
      const peers = rule.to && rule.to.length > 0 ? rule.to.map(describePeer) : ['(anywhere)'];
      const ports =
        rule.ports && rule.ports.length > 0 ? rule.ports.map((port) => `${port.protocol ?? 'TCP'}/${port.port ?? '*'}`) : ['(any port)'];
      return peers.flatMap((peer) => ports.map((port) => `${peer} ${port}`));
    });
  return [...new Set(destinations)].sort();
}

/** The rotor-agent entry of the overlay's `images:` (the release step pins it), as a reference. */
function pinnedAgentImage(): string {
  const { images } = parse(readFileSync(join(__dirname, '..', '..', OVERLAY, 'kustomization.yaml'), 'utf8')) as {
    images: { name: string; newName: string; digest: string }[];
  };
  const entry = images.find((image) => image.name === 'rotor-agent');
  return `${entry?.newName}@${entry?.digest}`;
}

// ---------------------------------------------------------------------------------------
// The overlay
// ---------------------------------------------------------------------------------------

describe('Kubernetes production overlay', () => {
  let text: string;
  let manifests: Manifest[];
  /** The four services. */
  let deployments: Deploy[];
  /** The four services and the injector. */
  let everyDeployment: Deploy[];
  let policies: Policy[];

  beforeAll(() => {
    ({ text, manifests } = renderKustomize(OVERLAY));
    everyDeployment = ofKind<IDeployment>(manifests, 'Deployment');
    deployments = everyDeployment.filter((deployment) => SERVICES.includes(deployment.metadata.name));
    policies = ofKind<INetworkPolicy>(manifests, 'NetworkPolicy').filter((policy) => policy.metadata.namespace === NAMESPACE);
  });

  const byName = (name: string) => {
    const deployment = everyDeployment.find((candidate) => candidate.metadata.name === name);
    if (!deployment) throw new Error(`no Deployment ${name}`);
    return deployment;
  };

  it('contains only known kinds, and every object with a kubernetes-models schema is valid against it', () => {
    expect(everyDeployment.map((deployment) => deployment.metadata.name).sort()).toEqual([...SERVICES, INJECTOR].sort());
    const errors = validationErrors(manifests, [CERTIFICATE, EXTERNAL_SECRET]);
    expect(errors).toEqual([]);
  });

  it('ships no Secret, never sets ROTOR_INSECURE_LOCAL and never points at the GSM emulator', () => {
    expect(ofKind(manifests, 'Secret').map(id)).toEqual([]);
    expect(text).not.toMatch(/ROTOR_INSECURE_LOCAL/);
    for (const deployment of deployments) {
      const { env } = only(manifests, deployment);
      expect({ name: deployment.metadata.name, emulator: env.get('SECRET_MANAGER_EMULATOR_HOST') }).toEqual({
        name: deployment.metadata.name,
        emulator: undefined,
      });
    }
  });

  it('serves HTTPS on the named ports https (PORT) and operator (ROTOR_OPERATOR_PORT) with its own certificate, mounted as a directory', () => {
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const { container, value } = only(manifests, deployment);
      const tls = (variable: string) => fileFromWrittenSecret(manifests, deployment, container, value(variable));
      const clientCa = value('ROTOR_TLS_CLIENT_CA_FILE');
      expect({
        name,
        ports: (container.ports ?? []).map((port) => `${port.name}=${port.containerPort}/${port.protocol ?? 'TCP'}`),
        PORT: value('PORT'),
        ROTOR_OPERATOR_PORT: value('ROTOR_OPERATOR_PORT'),
        cert: tls('ROTOR_TLS_CERT_FILE'),
        key: tls('ROTOR_TLS_KEY_FILE'),
        clientCa: clientCa === undefined ? 'unset' : typeof tls('ROTOR_TLS_CLIENT_CA_FILE'),
      }).toEqual({
        name,
        ports: [`https=${PORTS.https}/TCP`, `operator=${PORTS.operator}/TCP`],
        PORT: String(PORTS.https),
        ROTOR_OPERATOR_PORT: String(PORTS.operator),
        cert: { secret: `${name}-tls`, key: 'tls.crt', subPath: undefined },
        key: { secret: `${name}-tls`, key: 'tls.key', subPath: undefined },
        // Optional; when set it must be a mounted file too.
        clientCa: clientCa === undefined ? 'unset' : 'object',
      });
    }
  });

  it('probes over HTTPS: startup and liveness on /healthz, readiness on /readyz, on a port it names', () => {
    for (const deployment of deployments) {
      const { container } = only(manifests, deployment);
      const probe = (which: 'startupProbe' | 'livenessProbe' | 'readinessProbe') => {
        const get = container[which]?.httpGet;
        const port = get?.port;
        return `${get?.scheme ?? 'HTTP'} ${get?.path} ${typeof port === 'string' && namedPort(container, port) ? 'named' : String(port)}`;
      };
      expect({
        name: deployment.metadata.name,
        startup: probe('startupProbe'),
        liveness: probe('livenessProbe'),
        readiness: probe('readinessProbe'),
      }).toEqual({
        name: deployment.metadata.name,
        startup: 'HTTPS /healthz named',
        liveness: 'HTTPS /healthz named',
        readiness: 'HTTPS /readyz named',
      });
    }
  });

  it('exposes both listeners through its Service by port name, and asks Prometheus to scrape the operator port over HTTPS', () => {
    const services = ofKind<IService>(manifests, 'Service');
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const service = services.find((candidate) => candidate.metadata.name === name);
      const selector = service?.spec?.selector;
      const selected = selector !== undefined && matches({ matchLabels: selector }, podLabels(deployment));
      const annotations = deployment.spec?.template.metadata?.annotations ?? {};
      expect({
        name,
        selected,
        ports: (service?.spec?.ports ?? []).map((port) => `${port.name}:${port.port}->${String(port.targetPort)}`),
        scrape: [annotations['prometheus.io/scrape'], annotations['prometheus.io/scheme'], annotations['prometheus.io/port']],
      }).toEqual({
        name,
        selected: true,
        ports: [`https:${PORTS.https}->https`, `operator:${PORTS.operator}->operator`],
        scrape: ['true', 'https', String(PORTS.operator)],
      });
    }
  });

  it('connects to Kafka over SASL_SSL (SCRAM-SHA-512) as its own principal, the password from a mounted file', () => {
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const { container, env, value } = only(manifests, deployment);
      const file = (variable: string) => fileFromWrittenSecret(manifests, deployment, container, value(variable));
      const mtls = ['KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'].filter((variable) => env.has(variable));
      expect({
        name,
        brokers: value('KAFKA_BROKERS'),
        ssl: value('KAFKA_SSL'),
        mechanism: value('KAFKA_SASL_MECHANISM'),
        username: value('KAFKA_SASL_USERNAME'),
        principal: (KAFKA_PRINCIPALS as string[]).includes(value('KAFKA_SASL_USERNAME') ?? ''),
        password: file('KAFKA_SASL_PASSWORD_FILE'),
        plainPassword: env.has('KAFKA_SASL_PASSWORD'),
        ca: typeof file('KAFKA_SSL_CA_FILE'),
        // Optional mutual TLS: both or neither, each a mounted file.
        mtls: mtls.map((variable) => typeof file(variable)),
      }).toEqual({
        name,
        brokers: expect.stringMatching(/^[^:,\s]+:\d+(,[^:,\s]+:\d+)*$/),
        ssl: 'true',
        mechanism: 'scram-sha-512',
        username: name,
        principal: true,
        password: { secret: `${name}-credentials`, key: expect.any(String), subPath: undefined },
        plainPassword: false,
        ca: 'object',
        mtls: mtls.length === 0 ? [] : ['object', 'object'],
      });
    }
  });

  it('connects to Redis over TLS (rediss://) as its own ACL user, the password from a mounted file', () => {
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const { container, value } = only(manifests, deployment);
      const file = (variable: string) => fileFromWrittenSecret(manifests, deployment, container, value(variable));
      const url = value('REDIS_URL') ?? '';
      expect({
        name,
        url,
        credentialsInUrl: url.includes('@'),
        username: value('REDIS_USERNAME'),
        aclUser: Object.keys(REDIS_ACCESS).includes(value('REDIS_USERNAME') ?? ''),
        password: file('REDIS_PASSWORD_FILE'),
        ca: typeof file('REDIS_CA_FILE'),
      }).toEqual({
        name,
        url: expect.stringMatching(/^rediss:\/\//),
        credentialsInUrl: false,
        username: name,
        aclUser: true,
        password: { secret: `${name}-credentials`, key: expect.any(String), subPath: undefined },
        ca: 'object',
      });
    }
  });

  it("gives the issuer and the revoker, and only them, the redis-acl backend's Redis (TLS, its admin user, password file) and DATABASE_URL from their own Secret", () => {
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const { container, env, value } = only(manifests, deployment);
      const backend = BACKEND_SERVICES.includes(name);
      const aclUrl = value('ROTOR_REDIS_ACL_URL');
      expect({
        name,
        aclUrl,
        aclUser: value('ROTOR_REDIS_ACL_USERNAME'),
        aclPassword: env.has('ROTOR_REDIS_ACL_PASSWORD_FILE')
          ? fileFromWrittenSecret(manifests, deployment, container, value('ROTOR_REDIS_ACL_PASSWORD_FILE'))
          : 'unset',
        databaseUrl: env.get('DATABASE_URL') ?? 'unset',
      }).toEqual(
        backend
          ? {
              name,
              aclUrl: expect.stringMatching(/^rediss:\/\/[^@]+$/),
              aclUser: REDIS_ACL_ADMIN.user,
              aclPassword: { secret: `${name}-credentials`, key: expect.any(String), subPath: undefined },
              databaseUrl: { secret: `${name}-credentials`, key: expect.any(String) },
            }
          : { name, aclUrl: undefined, aclUser: undefined, aclPassword: 'unset', databaseUrl: 'unset' },
      );
    }
  });

  it('builds DATABASE_URL with sslmode=verify-full against a CA file the service mounts', () => {
    const externals = ofKind<ExternalSecret>(manifests, 'ExternalSecret');
    for (const name of BACKEND_SERVICES) {
      const deployment = byName(name);
      const { container, env } = only(manifests, deployment);
      const source = env.get('DATABASE_URL');
      const ref = source && 'secret' in source ? source : undefined;
      const template = externals.find((external) => external.spec?.target?.name === ref?.secret)?.spec?.target?.template?.data?.[
        ref?.key ?? ''
      ];
      const query = new URLSearchParams(/\?([^?]*)$/.exec(template ?? '')?.[1] ?? '');
      expect({
        name,
        scheme: /^[a-z]+:\/\//.exec(template ?? '')?.[0],
        sslmode: query.get('sslmode'),
        sslrootcert: typeof fileFromWrittenSecret(manifests, deployment, container, query.get('sslrootcert') ?? undefined),
      }).toEqual({ name, scheme: expect.stringMatching(/^postgres(ql)?:\/\/$/), sslmode: 'verify-full', sslrootcert: 'object' });
    }
  });

  it('gives the auditor, and only it, its own database URL as a file from auditor-credentials, and never DATABASE_URL', () => {
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const { container, env, value } = only(manifests, deployment);
      expect({
        name,
        variables: AUDIT_DATABASE_VARIABLES.filter((variable) => env.has(variable)),
        adminUrl: ['DATABASE_URL', 'DATABASE_URL_FILE'].filter((variable) => env.has(variable)),
        file:
          name === 'auditor' ? fileFromWrittenSecret(manifests, deployment, container, value('ROTOR_AUDIT_DATABASE_URL_FILE')) : 'unset',
      }).toEqual(
        name === 'auditor'
          ? {
              name,
              variables: ['ROTOR_AUDIT_DATABASE_URL_FILE'],
              adminUrl: [],
              file: { secret: 'auditor-credentials', key: 'database-url', subPath: undefined },
            }
          : { name, variables: [], adminUrl: BACKEND_SERVICES.includes(name) ? ['DATABASE_URL'] : [], file: 'unset' },
      );
    }
  });

  it("builds the auditor's database URL with sslmode=verify-full against a mounted CA, for its own database and credentials, not the postgres backend's", () => {
    const externals = ofKind<ExternalSecret>(manifests, 'ExternalSecret');
    const deployment = byName('auditor');
    const { container, value } = only(manifests, deployment);
    const source = fileFromWrittenSecret(manifests, deployment, container, value('ROTOR_AUDIT_DATABASE_URL_FILE'));
    const ref = typeof source === 'string' ? undefined : source;
    const external = externals.find((candidate) => candidate.spec?.target?.name === ref?.secret);
    const template = external?.spec?.target?.template?.data?.[ref?.key ?? ''] ?? '';
    const query = new URLSearchParams(/\?([^?]*)$/.exec(template)?.[1] ?? '');
    const database = (url: string) => /^[a-z]+:\/\/[^/]+\/([^?]+)/.exec(url)?.[1];
    const remoteKeys = (target: string) =>
      (externals.find((candidate) => candidate.spec?.target?.name === target)?.spec?.data ?? []).map((entry) => entry.remoteRef?.key);
    expect({
      scheme: /^[a-z]+:\/\//.exec(template)?.[0],
      sslmode: query.get('sslmode'),
      sslrootcert: typeof fileFromWrittenSecret(manifests, deployment, container, query.get('sslrootcert') ?? undefined),
      database: database(template),
      postgresKeys: remoteKeys('auditor-credentials').filter((key) => key?.includes('postgres')),
    }).toEqual({
      scheme: expect.stringMatching(/^postgres(ql)?:\/\/$/),
      sslmode: 'verify-full',
      sslrootcert: 'object',
      database: 'rotor_audit',
      postgresKeys: ['rotor-auditor-postgres-username', 'rotor-auditor-postgres-password'],
    });
    for (const name of BACKEND_SERVICES) {
      const backendTemplate =
        externals.find((candidate) => candidate.spec?.target?.name === `${name}-credentials`)?.spec?.target?.template?.data?.[
          'database-url'
        ] ?? '';
      expect({ name, database: database(backendTemplate) }).not.toEqual({ name, database: 'rotor_audit' });
      expect(remoteKeys(`${name}-credentials`)).not.toContain('rotor-auditor-postgres-password');
    }
  });

  it(`issues one cert-manager Certificate per service and the injector from the ${CLUSTER_ISSUER} ClusterIssuer (ECDSA, new key on every renewal), mounted by that service`, () => {
    const certificates = ofKind<Certificate>(manifests, 'Certificate');
    expect(certificates.map((certificate) => typeOf(certificate))).toEqual([...SERVICES, INJECTOR].map(() => CERTIFICATE));
    const hours = (duration: string | undefined) => {
      const match = /^(\d+)h$/.exec(duration ?? '');
      return match ? Number(match[1]) : NaN;
    };
    for (const certificate of certificates) {
      const service = certificate.metadata.labels?.['app.kubernetes.io/name'] ?? '(unlabelled)';
      const spec = certificate.spec;
      const mountedBy = everyDeployment
        .filter((deployment) =>
          (podSpec(deployment).volumes ?? []).some(
            (volume) =>
              volume.secret?.secretName === spec?.secretName &&
              podSpec(deployment).containers.some((container) =>
                (container.volumeMounts ?? []).some((mount) => mount.name === volume.name && mount.subPath === undefined),
              ),
          ),
        )
        .map((deployment) => deployment.metadata.name);
      expect({
        certificate: id(certificate),
        namespace: certificate.metadata.namespace,
        secretName: spec?.secretName,
        mountedBy,
        dnsNames: spec?.dnsNames,
        issuerRef: spec?.issuerRef,
        privateKey: { algorithm: spec?.privateKey?.algorithm, rotationPolicy: spec?.privateKey?.rotationPolicy },
        renewsBeforeExpiry: hours(spec?.renewBefore) > 0 && hours(spec?.renewBefore) < hours(spec?.duration),
        serverAuth: spec?.usages?.includes('server auth'),
      }).toEqual({
        certificate: id(certificate),
        namespace: NAMESPACE,
        secretName: `${service}-tls`,
        mountedBy: [service],
        dnsNames: [service, `${service}.${NAMESPACE}.svc`, `${service}.${NAMESPACE}.svc.cluster.local`],
        issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: CLUSTER_ISSUER },
        privateKey: { algorithm: 'ECDSA', rotationPolicy: 'Always' },
        renewsBeforeExpiry: true,
        serverAuth: true,
      });
    }
    expect(certificates.map((certificate) => certificate.metadata.labels?.['app.kubernetes.io/name']).sort()).toEqual(
      [...SERVICES, INJECTOR].sort(),
    );
  });

  it('deploys the injector: the webhook calls its https port over the Service, with a cert-manager certificate for that name whose CA cert-manager injects as the caBundle', () => {
    const injector = byName(INJECTOR);
    const { container, value } = only(manifests, injector);
    const configurations = ofKind<IMutatingWebhookConfiguration>(manifests, 'MutatingWebhookConfiguration');
    expect(configurations.map(id)).toEqual(['MutatingWebhookConfiguration (cluster)/rotor-injector']);
    const configuration = configurations[0]!;
    const webhook = configuration.webhooks?.[0];
    const target = webhook?.clientConfig.service;
    const service = ofKind<IService>(manifests, 'Service').find(
      (candidate) => candidate.metadata.name === target?.name && candidate.metadata.namespace === target?.namespace,
    );
    const servicePort = service?.spec?.ports?.find((port) => port.port === (target?.port ?? 443));
    const served = fileFromWrittenSecret(manifests, injector, container, value('ROTOR_TLS_CERT_FILE'));
    const certificate = ofKind<Certificate>(manifests, 'Certificate').find(
      (candidate) => typeof served !== 'string' && candidate.spec?.secretName === served.secret,
    );
    expect({
      selectsInjector: matches({ matchLabels: service?.spec?.selector ?? {} }, podLabels(injector)),
      targetPort: typeof servicePort?.targetPort === 'string' ? namedPort(container, servicePort.targetPort) : servicePort?.targetPort,
      key: typeof fileFromWrittenSecret(manifests, injector, container, value('ROTOR_TLS_KEY_FILE')),
      certificateCovers: certificate?.spec?.dnsNames?.includes(`${target?.name}.${target?.namespace}.svc`),
      caFrom: configuration.metadata?.annotations?.['cert-manager.io/inject-ca-from'],
      caBundle: webhook?.clientConfig.caBundle,
      failurePolicy: webhook?.failurePolicy,
    }).toEqual({
      selectsInjector: true,
      targetPort: Number(value('PORT')),
      key: 'object',
      certificateCovers: true,
      caFrom: `${certificate?.metadata.namespace}/${certificate?.metadata.name}`,
      caBundle: undefined,
      failurePolicy: 'Fail',
    });
  });

  it("gives injected pods the agent's own pinned image and the issuer's workload address in this overlay", () => {
    const { container, value } = only(manifests, byName(INJECTOR));
    const issuerUrl = new URL(value('ROTOR_AGENT_ISSUER_URL') ?? '');
    const [host, namespace] = issuerUrl.hostname.split('.');
    const issuerService = ofKind<IService>(manifests, 'Service').find(
      (candidate) => candidate.metadata.name === host && candidate.metadata.namespace === namespace,
    );
    const issuerCertificate = ofKind<Certificate>(manifests, 'Certificate').find(
      (candidate) => candidate.spec?.secretName === 'issuer-tls',
    );
    expect({
      agentImage: value('ROTOR_AGENT_IMAGE'),
      issuerPort: issuerService?.spec?.ports?.find((port) => port.port === Number(issuerUrl.port))?.name,
      issuerCertificateCovers: issuerCertificate?.spec?.dnsNames?.includes(issuerUrl.hostname),
    }).toEqual({ agentImage: pinnedAgentImage(), issuerPort: 'https', issuerCertificateCovers: true });
    expect(container.image).not.toBe(pinnedAgentImage());
  });

  it('writes every other Secret a Deployment reads through an ExternalSecret from a ClusterSecretStore, with every key it reads', () => {
    const externals = ofKind<ExternalSecret>(manifests, 'ExternalSecret');
    expect(externals.length).toBeGreaterThan(0);
    for (const external of externals) {
      const spec = external.spec;
      const remote = (spec?.data ?? []).map((entry) => entry.secretKey);
      const placeholders = Object.values(spec?.target?.template?.data ?? {}).flatMap((template) =>
        [...template.matchAll(/{{\s*\.(\w+)/g)].map((match) => match[1]),
      );
      expect({
        external: id(external),
        type: typeOf(external),
        namespace: external.metadata.namespace,
        store: spec?.secretStoreRef?.kind,
        storeName: typeof spec?.secretStoreRef?.name,
        target: typeof spec?.target?.name,
        refreshInterval: typeof spec?.refreshInterval,
        remoteKeys: (spec?.data ?? []).every((entry) => Boolean(entry.secretKey) && Boolean(entry.remoteRef?.key)),
        dataFrom: spec?.dataFrom,
        unknownPlaceholders: placeholders.filter((placeholder) => !remote.includes(placeholder)),
      }).toEqual({
        external: id(external),
        type: EXTERNAL_SECRET,
        namespace: NAMESPACE,
        store: 'ClusterSecretStore',
        storeName: 'string',
        target: 'string',
        refreshInterval: 'string',
        remoteKeys: true,
        dataFrom: undefined,
        unknownPlaceholders: [],
      });
    }

    const written = writtenSecrets(manifests);
    const missing = everyDeployment.flatMap((deployment) => {
      const pod = podSpec(deployment);
      const reads = [
        ...pod.containers.flatMap((container) =>
          (container.env ?? []).flatMap((variable) => {
            const ref = variable.valueFrom?.secretKeyRef;
            return ref ? [{ secret: ref.name ?? '', key: ref.key }] : [];
          }),
        ),
        ...(pod.volumes ?? []).flatMap((volume) =>
          volume.secret
            ? (volume.secret.items ?? [{ key: undefined }]).map((item) => ({
                secret: volume.secret?.secretName ?? '',
                key: item.key,
              }))
            : [],
        ),
      ];
      return reads
        .filter(({ secret, key }) => {
          const writer = written.get(secret);
          return !writer || (key !== undefined && !writer.keys.includes(key));
        })
        .map(({ secret, key }) => `${deployment.metadata.name} reads ${secret}/${key ?? '*'}`);
    });
    expect(missing).toEqual([]);
  });

  // --- RBAC ----------------------------------------------------------------------------------

  it("gives the revoker an API token and exactly the pod access its pod sweep's calls need, and turns the sweep on", () => {
    const calls = [...readFileSync(POD_LISTER_SOURCE, 'utf8').matchAll(/this\.api\.(\w+)\(/g)].map((match) => match[1] ?? '');
    expect(calls.length).toBeGreaterThan(0);
    const unknown = calls.filter((call) => RBAC_OF_CALL[call] === undefined);
    expect(unknown).toEqual([]);
    const needed = [...new Set(calls.map((call) => RBAC_OF_CALL[call] ?? ''))].sort();

    const revoker = byName('revoker');
    const { container, env, value } = only(manifests, revoker);
    const account = ofKind<IServiceAccount>(manifests, 'ServiceAccount').find(
      (candidate) => candidate.metadata.name === podSpec(revoker).serviceAccountName && candidate.metadata.namespace === NAMESPACE,
    );
    const bindings = [
      ...ofKind<IClusterRoleBinding>(manifests, 'ClusterRoleBinding'),
      ...ofKind<IRoleBinding>(manifests, 'RoleBinding'),
    ].filter((binding) =>
      (binding.subjects ?? []).some(
        (subject) => subject.kind === 'ServiceAccount' && subject.name === account?.metadata.name && subject.namespace === NAMESPACE,
      ),
    );
    const granted = bindings.flatMap((binding) => {
      const role = ofKind<IClusterRole>(manifests, binding.roleRef.kind).find(
        (candidate) => candidate.metadata.name === binding.roleRef.name,
      );
      if (!role) return [`${binding.roleRef.kind} ${binding.roleRef.name} (not in the overlay)`];
      return (role.rules ?? []).flatMap((rule) =>
        (rule.apiGroups ?? ['(none)']).flatMap((group) =>
          (rule.resources ?? ['(none)']).flatMap((resource) =>
            rule.verbs.map((verb) => `${group}/${resource}${rule.resourceNames ? `[${rule.resourceNames.join(',')}]` : ''}:${verb}`),
          ),
        ),
      );
    });
    expect({
      bindings: bindings.map((binding) => `${binding.kind} -> ${binding.roleRef.kind} ${binding.roleRef.name}`),
      granted: granted.sort(),
      automount: podSpec(revoker).automountServiceAccountToken ?? account?.automountServiceAccountToken ?? true,
      shadowed: (container.volumeMounts ?? [])
        .filter((mount) => IN_CLUSTER_DIR.startsWith(mount.mountPath))
        .map((mount) => mount.mountPath),
      kubeconfig: env.has('KUBECONFIG'),
      sweepMs: Number(value('ROTOR_POD_SWEEP_MS')) > 0,
    }).toEqual({
      bindings: ['ClusterRoleBinding -> ClusterRole rotor-revoker-pod-sweep'],
      granted: needed,
      automount: true,
      shadowed: [],
      kubeconfig: false,
      sweepMs: true,
    });
  });

  it('binds ClusterRoles to the issuer (TokenReview) and the revoker (pod sweep) only', () => {
    const grants = [...ofKind<IClusterRoleBinding>(manifests, 'ClusterRoleBinding'), ...ofKind<IRoleBinding>(manifests, 'RoleBinding')]
      .filter((binding) => binding.roleRef.kind === 'ClusterRole')
      .flatMap((binding) =>
        (binding.subjects ?? []).map((subject) => `${subject.kind} ${subject.namespace}/${subject.name} -> ${binding.roleRef.name}`),
      );
    expect(grants.sort()).toEqual([
      `ServiceAccount ${NAMESPACE}/issuer -> system:auth-delegator`,
      `ServiceAccount ${NAMESPACE}/revoker -> rotor-revoker-pod-sweep`,
    ]);
  });

  // --- NetworkPolicies: ingress ------------------------------------------------------------

  it('keeps the base default-deny-ingress and drops its allow-<service>-http policies', () => {
    const names = policies.map((policy) => policy.metadata.name);
    expect(names.filter((name) => /^allow-.*-http$/.test(name))).toEqual([]);
    const defaultDeny = policies.filter(
      (policy) =>
        isEmptySelector(policy.spec?.podSelector) &&
        (policy.spec?.policyTypes ?? []).includes('Ingress') &&
        (policy.spec?.ingress ?? []).length === 0,
    );
    expect(defaultDeny.map((policy) => policy.metadata.name)).toEqual(['default-deny-ingress']);
  });

  it('lets no ingress rule in without `from:`, and only to named ports of every pod its policy selects', () => {
    const problems = policies.flatMap((policy) => {
      const rules = policy.spec?.ingress ?? [];
      if (rules.length === 0) return [];
      const selected = everyDeployment.filter((deployment) => matches(policy.spec?.podSelector, podLabels(deployment)));
      // The one address-based source: the API server, which no label can select, calling the webhook.
      const apiServerToWebhook = (peer: INetworkPolicyPeer) =>
        peer.ipBlock?.cidr === KUBERNETES_API_CIDR &&
        peer.ipBlock.except === undefined &&
        selected.every((deployment) => deployment.metadata.name === INJECTOR);
      return [
        ...(!(policy.spec?.policyTypes ?? []).includes('Ingress') ? [`${policy.metadata.name}: no Ingress type`] : []),
        ...(selected.length === 0 ? [`${policy.metadata.name}: selects no rotor pod`] : []),
        ...rules.flatMap((rule, index) => {
          const where = `${policy.metadata.name} ingress[${index}]`;
          return [
            ...(!rule.from || rule.from.length === 0 ? [`${where}: no from`] : []),
            ...(rule.from ?? []).filter((peer) => peer.ipBlock && !apiServerToWebhook(peer)).map(() => `${where}: from an ipBlock`),
            ...(!rule.ports || rule.ports.length === 0 ? [`${where}: every port`] : []),
            ...(rule.ports ?? []).flatMap((port) =>
              typeof port.port !== 'string'
                ? [`${where}: port ${String(port.port)} is not named`]
                : selected
                    .filter((deployment) => namedPort(only(manifests, deployment).container, port.port as string) === undefined)
                    .map((deployment) => `${where}: ${deployment.metadata.name} has no port ${String(port.port)}`),
            ),
          ];
        }),
      ];
    });
    expect(policies.some((policy) => (policy.spec?.ingress ?? []).length > 0)).toBe(true);
    expect(problems).toEqual([]);
  });

  it("lets only namespaces labelled rotor.dev/workloads reach the issuer's workload port, only the API server the injector's webhook port, and nobody the other services' workload port", () => {
    const expected: Record<string, string[]> = {
      issuer: ['namespace{rotor.dev/workloads=true}'],
      [INJECTOR]: [`ip ${KUBERNETES_API_CIDR}`],
    };
    for (const deployment of everyDeployment) {
      const name = deployment.metadata.name;
      const peers = ingressPeers(policies, deployment, only(manifests, deployment).container, 'https');
      expect({ name, peers }).toEqual({ name, peers: expected[name] ?? [] });
    }
  });

  it("lets only the operators' namespace and Prometheus reach every service's (and the injector's) operator port", () => {
    for (const deployment of everyDeployment) {
      const name = deployment.metadata.name;
      const peers = ingressPeers(policies, deployment, only(manifests, deployment).container, 'operator');
      expect({ name, peers }).toEqual({
        name,
        peers: [
          'namespace{kubernetes.io/metadata.name=monitoring} pod{app.kubernetes.io/name=prometheus}',
          'namespace{rotor.dev/operators=true}',
        ],
      });
    }
  });

  // --- NetworkPolicies: egress -------------------------------------------------------------

  it('denies egress by default to every pod in the namespace, and every egress rule names its destinations and ports', () => {
    const defaultDeny = policies.filter(
      (policy) =>
        isEmptySelector(policy.spec?.podSelector) &&
        (policy.spec?.policyTypes ?? []).includes('Egress') &&
        (policy.spec?.egress ?? []).length === 0,
    );
    expect(defaultDeny.map((policy) => policy.metadata.name)).toEqual(['default-deny-egress']);
    for (const deployment of everyDeployment) {
      expect(matches(defaultDeny[0]?.spec?.podSelector, podLabels(deployment))).toBe(true);
    }

    const problems = policies.flatMap((policy) =>
      (policy.spec?.egress ?? []).flatMap((rule, index) => {
        const where = `${policy.metadata.name} egress[${index}]`;
        return [
          ...(!(policy.spec?.policyTypes ?? []).includes('Egress') ? [`${where}: policy has no Egress type`] : []),
          ...(!rule.to || rule.to.length === 0 ? [`${where}: no to`] : []),
          ...(!rule.ports || rule.ports.length === 0 ? [`${where}: every port`] : []),
          ...(rule.ports ?? []).filter((port) => typeof port.port !== 'number').map(() => `${where}: a port without a number`),
        ];
      }),
    );
    expect(policies.some((policy) => (policy.spec?.egress ?? []).length > 0)).toBe(true);
    expect(problems).toEqual([]);
  });

  it('opens to each service exactly the dependencies it uses, and nothing to the injector', () => {
    const ns = (name: string) => `namespace{kubernetes.io/metadata.name=${name}}`;
    const everyone = [
      `${ns('kube-system')} pod{k8s-app=kube-dns} TCP/53`,
      `${ns('kube-system')} pod{k8s-app=kube-dns} UDP/53`,
      `${ns('kafka')} TCP/9093`,
      `${ns('redis')} TCP/6379`,
      `${ns('observability')} TCP/4317`,
      `${ns('observability')} TCP/4318`,
      // The OpenID Provider (placeholder address in settings.yaml).
      'ip 198.51.100.1/32 TCP/443',
    ];
    const backends = [`${ns('redis-acl')} TCP/6379`, `${ns('postgres')} TCP/5432`];
    // The API server (placeholder address in settings.yaml).
    const kubernetesApi = ['ip 192.0.2.1/32 TCP/443', 'ip 192.0.2.1/32 TCP/6443'];
    const gsm = [
      'ip 0.0.0.0/0 except 10.0.0.0/8,100.64.0.0/10,169.254.0.0/16,172.16.0.0/12,192.168.0.0/16 TCP/443',
      'ip 169.254.169.252/32 TCP/988',
      'ip 169.254.169.254/32 TCP/80',
    ];
    const expected: Record<string, string[]> = {
      // The signed audit checkpoints, kept outside Kafka; its own database (chain state, views).
      auditor: [...everyone, ...gsm, `${ns('postgres')} TCP/5432`],
      distributor: [...everyone, ...kubernetesApi, ...gsm, 'namespace{rotor.dev/webhook-receivers=true} TCP/443'],
      issuer: [...everyone, ...backends, ...kubernetesApi, ...gsm],
      // The pod sweep lists pods.
      revoker: [...everyone, ...backends, ...kubernetesApi, ...gsm],
      // Connects to nothing: the API server calls it.
      [INJECTOR]: [],
    };
    for (const deployment of everyDeployment) {
      const name = deployment.metadata.name;
      expect({ name, egress: egressDestinations(policies, deployment) }).toEqual({
        name,
        egress: [...(expected[name] ?? [])].sort(),
      });
    }
  });

  it('opens Google Secret Manager (TCP 443 to public addresses only) to the issuer, the revoker, the distributor and the auditor (checkpoints) alone', () => {
    const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16'];
    const internetRules = (deployment: IDeployment) =>
      policiesSelecting(policies, deployment)
        .flatMap((policy) => policy.spec?.egress ?? [])
        .flatMap((rule) =>
          (rule.to ?? [])
            .filter((peer) => peer.ipBlock?.cidr === '0.0.0.0/0' || peer.ipBlock?.cidr === '::/0')
            .map((peer) => ({
              ports: (rule.ports ?? []).map((port) => `${port.protocol ?? 'TCP'}/${String(port.port ?? '*')}`),
              privateExcluded: PRIVATE.every((range) => peer.ipBlock?.except?.includes(range)),
            })),
        );
    const reaching = everyDeployment.filter((deployment) => internetRules(deployment).length > 0);
    expect(reaching.map((deployment) => deployment.metadata.name).sort()).toEqual(GSM_SERVICES);
    for (const deployment of reaching) {
      expect({ name: deployment.metadata.name, rules: internetRules(deployment) }).toEqual({
        name: deployment.metadata.name,
        rules: [{ ports: ['TCP/443'], privateExcluded: true }],
      });
    }
  });
});
