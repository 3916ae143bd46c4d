/**
 * From what a pod asked for to the JSON Patch (RFC 6902) that gives it the agent. Each change
 * is made only when it is missing, so a pod that already went through the injector (a
 * reinvocation, or a pod re-submitted as it was patched) gets an empty patch, and containers
 * another webhook added since are still given the credentials mount.
 */
import type { InjectionRequest } from './annotations';

/** The part of a core/v1 Pod the injector reads; everything else passes through untouched. */
export interface PodLike {
  metadata?: { name?: string; generateName?: string; annotations?: Record<string, string> };
  spec?: {
    containers?: ContainerLike[];
    initContainers?: ContainerLike[];
    volumes?: { name: string }[];
    securityContext?: { fsGroup?: number };
  };
}

export interface ContainerLike {
  name: string;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export type JsonPatchOperation =
  { op: 'add'; path: string; value: unknown } | { op: 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/** What the injector adds, from its own configuration (ROTOR_AGENT_* variables). */
export interface AgentSettings {
  /** The agent's image (the Dockerfile's `agent` target): its entrypoint runs the agent, the args name the mode. */
  image: string;
  /** The issuer's URL as pods reach it. */
  issuerUrl: string;
  /** A ConfigMap in the pod's namespace holding the issuer's CA as `ca.crt`; unset: the image's trust store. */
  caConfigMap?: string;
  tokenAudience: string;
  tokenExpirationSeconds: number;
  /** Set on pods without one, so the application's user can read the files (mode 0440). */
  fsGroup: number;
}

/**
 * The agent's configuration, passed as JSON in ROTOR_AGENT_CONFIG (docs/injector.md), in the
 * shape apps/agent/src/config.ts validates (test/static/agent-injector-contract.spec.ts holds the two together).
 */
export interface AgentConfig {
  issuer: { url: string; caFile?: string };
  tokenFile: string;
  credentials: {
    name: string;
    role?: string;
    secret?: string;
    /** `<mount path>/<name>`: what the sidecar's startup probe waits for. */
    file: string;
    template?: string;
    templateText?: string;
  }[];
  /** Probes reach the sidecar through the pod's IP. */
  sidecar: { listen: { host: string } };
}

/** The agent's built-in shapes; any other template annotation is a `{{field}}` text of its own. */
const BUILT_IN_TEMPLATES = new Set(['raw', 'env', 'json', 'postgres-url', 'redis-url']);

export const AGENT_CONTAINER = 'rotor-agent';
export const AGENT_CONFIG_ENV = 'ROTOR_AGENT_CONFIG';
export const VOLUMES = { credentials: 'rotor-credentials', token: 'rotor-token', ca: 'rotor-ca' } as const;
const TOKEN_DIR = '/var/run/secrets/rotor.dev/serviceaccount';
const CA_DIR = '/etc/rotor-agent/ca';

export type MutationPlan = { kind: 'patch'; operations: JsonPatchOperation[] } | { kind: 'conflict'; reason: string };

export function agentConfig(request: InjectionRequest, settings: AgentSettings): AgentConfig {
  return {
    issuer: { url: settings.issuerUrl, ...(settings.caConfigMap ? { caFile: `${CA_DIR}/ca.crt` } : {}) },
    tokenFile: `${TOKEN_DIR}/token`,
    credentials: request.credentials.map(({ template, ...credential }) => ({
      ...credential,
      file: `${request.mountPath}/${credential.name}`,
      ...(template === undefined ? {} : BUILT_IN_TEMPLATES.has(template) ? { template } : { templateText: template }),
    })),
    sidecar: { listen: { host: '0.0.0.0' } },
  };
}

/** The agent container: first init container, a native sidecar (`restartPolicy: Always`) unless mode is init. */
export function agentContainer(request: InjectionRequest, settings: AgentSettings) {
  const sidecar = request.mode === 'sidecar';
  return {
    name: AGENT_CONTAINER,
    image: settings.image,
    // No command: the image's entrypoint (tini, then the agent) stays, so SIGTERM reaches the agent.
    // The configuration is the JSON in ROTOR_AGENT_CONFIG: no ConfigMap to create or keep in step.
    args: [request.mode],
    env: [{ name: AGENT_CONFIG_ENV, value: JSON.stringify(agentConfig(request, settings)) }],
    // A native sidecar counts as started once its startup probe passes, and only then do the
    // application containers start: the probe waits for every credential file.
    ...(sidecar ? { restartPolicy: 'Always', startupProbe: filesWritten(request) } : {}),
    resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: VOLUMES.credentials, mountPath: request.mountPath },
      { name: VOLUMES.token, mountPath: TOKEN_DIR, readOnly: true },
      ...(settings.caConfigMap ? [{ name: VOLUMES.ca, mountPath: CA_DIR, readOnly: true }] : []),
    ],
  };
}

/** Names and mount path are validated to a shell-safe alphabet (annotations.ts), so this command quotes nothing. */
function filesWritten(request: InjectionRequest) {
  const tests = request.credentials.map((credential) => `test -f ${request.mountPath}/${credential.name}`).join(' && ');
  return { exec: { command: ['/bin/sh', '-c', tests] }, periodSeconds: 1, failureThreshold: 300 };
}

function volumes(settings: AgentSettings) {
  return [
    // Memory-backed: a credential never lands on the node's disk.
    { name: VOLUMES.credentials, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    {
      name: VOLUMES.token,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: settings.tokenAudience,
              expirationSeconds: settings.tokenExpirationSeconds,
              path: 'token',
            },
          },
        ],
      },
    },
    ...(settings.caConfigMap
      ? [{ name: VOLUMES.ca, configMap: { name: settings.caConfigMap, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }]
      : []),
  ];
}

/** The patch that gives `pod` what `request` asks for; empty when it has it already. */
export function planMutation(pod: PodLike, request: InjectionRequest, settings: AgentSettings): MutationPlan {
  const spec = pod.spec ?? {};
  const containers = spec.containers ?? [];
  const initContainers = spec.initContainers ?? [];
  const existingVolumes = new Set((spec.volumes ?? []).map((volume) => volume.name));
  const hasAgent = initContainers.some((container) => container.name === AGENT_CONTAINER);

  if (!hasAgent) {
    const clash = [...containers, ...initContainers].find((container) => container.name === AGENT_CONTAINER);
    if (clash) return { kind: 'conflict', reason: `a container is already named ${AGENT_CONTAINER}` };
    const taken = Object.values(VOLUMES).find((name) => existingVolumes.has(name));
    if (taken) return { kind: 'conflict', reason: `the pod already has a volume named ${taken}` };
  }
  const foreignMount = containers.find((container) =>
    (container.volumeMounts ?? []).some((mount) => mount.mountPath === request.mountPath && mount.name !== VOLUMES.credentials),
  );
  if (foreignMount) return { kind: 'conflict', reason: `container ${foreignMount.name} already mounts something at ${request.mountPath}` };

  const operations: JsonPatchOperation[] = [];
  const missingVolumes = volumes(settings).filter((volume) => !existingVolumes.has(volume.name));
  if (spec.volumes === undefined) {
    if (missingVolumes.length > 0) operations.push({ op: 'add', path: '/spec/volumes', value: missingVolumes });
  } else {
    for (const volume of missingVolumes) operations.push({ op: 'add', path: '/spec/volumes/-', value: volume });
  }

  if (!hasAgent) {
    // First, so that init containers after it (migrations, say) can read the credentials too.
    const agent = agentContainer(request, settings);
    operations.push(
      spec.initContainers === undefined
        ? { op: 'add', path: '/spec/initContainers', value: [agent] }
        : { op: 'add', path: '/spec/initContainers/0', value: agent },
    );
  }

  const mount = { name: VOLUMES.credentials, mountPath: request.mountPath, readOnly: true };
  containers.forEach((container, index) => {
    if ((container.volumeMounts ?? []).some((existing) => existing.name === VOLUMES.credentials)) return;
    operations.push(
      container.volumeMounts === undefined
        ? { op: 'add', path: `/spec/containers/${index}/volumeMounts`, value: [mount] }
        : { op: 'add', path: `/spec/containers/${index}/volumeMounts/-`, value: mount },
    );
  });

  if (spec.securityContext === undefined) {
    operations.push({ op: 'add', path: '/spec/securityContext', value: { fsGroup: settings.fsGroup } });
  } else if (spec.securityContext.fsGroup === undefined) {
    operations.push({ op: 'add', path: '/spec/securityContext/fsGroup', value: settings.fsGroup });
  }
  return { kind: 'patch', operations };
}
