/**
 * The pod annotations the injector reads, parsed into what the pod asked for, or the reason
 * it is refused. Pure: no Kubernetes client, no HTTP.
 */

export const ANNOTATION_PREFIX = 'rotor.dev/';
export const INJECT = 'rotor.dev/inject';
export const AGENT_MODE = 'rotor.dev/agent-mode';
export const MOUNT_PATH = 'rotor.dev/mount-path';
const CREDENTIAL_KINDS = ['role', 'secret', 'template'] as const;

export const DEFAULT_MOUNT_PATH = '/var/run/rotor';
export const AGENT_MODES = ['init', 'sidecar'] as const;
export type AgentMode = (typeof AGENT_MODES)[number];
/** The agent's built-in templates; anything else must be a custom `{{field}}` template. */
export const TEMPLATE_NAMES = ['raw', 'env', 'json', 'postgres-url', 'redis-url'] as const;

/** A DNS-1123 label, like catalog role and secret names: also safe as a file name and in a shell word. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export interface CredentialRequest {
  /** The file the agent writes, under the mount path. */
  name: string;
  role?: string;
  secret?: string;
  template?: string;
}

export interface InjectionRequest {
  mode: AgentMode;
  mountPath: string;
  credentials: CredentialRequest[];
}

export type AnnotationReading =
  { kind: 'not-requested' } | { kind: 'inject'; request: InjectionRequest } | { kind: 'invalid'; annotation: string; reason: string };

const invalid = (annotation: string, reason: string): AnnotationReading => ({ kind: 'invalid', annotation, reason });

/**
 * Reads a pod's annotations. Only `rotor.dev/inject: "true"` asks for the agent; `"false"` or
 * no annotation leaves the pod alone. Any other value is refused rather than ignored, so a
 * typo (`"True"`, `"yes"`) does not silently start a pod without its credentials.
 */
export function readAnnotations(annotations: Readonly<Record<string, string>> | undefined): AnnotationReading {
  const all = annotations ?? {};
  const inject = all[INJECT];
  if (inject === undefined || inject === 'false') return { kind: 'not-requested' };
  if (inject !== 'true') return invalid(INJECT, `must be "true" or "false", not ${JSON.stringify(inject)}`);

  const credentials = new Map<string, CredentialRequest>();
  let mode: AgentMode = 'sidecar';
  let mountPath = DEFAULT_MOUNT_PATH;
  // Sorted, so the first problem reported (and the credentials' order) do not depend on map order.
  for (const key of Object.keys(all).sort()) {
    if (!key.startsWith(ANNOTATION_PREFIX) || key === INJECT) continue;
    const value = all[key] ?? '';
    if (key === AGENT_MODE) {
      if (!(AGENT_MODES as readonly string[]).includes(value)) return invalid(key, `must be one of ${AGENT_MODES.join(', ')}`);
      mode = value as AgentMode;
      continue;
    }
    if (key === MOUNT_PATH) {
      const problem = mountPathProblem(value);
      if (problem) return invalid(key, problem);
      mountPath = value;
      continue;
    }
    const suffix = key.slice(ANNOTATION_PREFIX.length);
    const kind = CREDENTIAL_KINDS.find((candidate) => suffix.startsWith(`${candidate}-`));
    if (!kind) {
      return invalid(key, `is not a rotor annotation (known: inject, agent-mode, mount-path, role-<name>, secret-<name>, template-<name>)`);
    }
    const name = suffix.slice(kind.length + 1);
    if (!DNS_LABEL.test(name)) return invalid(key, `the credential name ${JSON.stringify(name)} must be a DNS-1123 label (a-z, 0-9, -)`);
    const credential = credentials.get(name) ?? { name };
    if (kind === 'template') {
      const problem = templateProblem(value);
      if (problem) return invalid(key, problem);
      credential.template = value;
    } else {
      if (!DNS_LABEL.test(value)) return invalid(key, `the ${kind} name ${JSON.stringify(value)} must be a DNS-1123 label (a-z, 0-9, -)`);
      credential[kind] = value;
    }
    credentials.set(name, credential);
  }

  for (const credential of credentials.values()) {
    if (credential.role !== undefined && credential.secret !== undefined) {
      return invalid(
        `${ANNOTATION_PREFIX}secret-${credential.name}`,
        `credential ${credential.name} names both a role and a secret; one file holds one of them`,
      );
    }
    if (credential.role === undefined && credential.secret === undefined) {
      return invalid(
        `${ANNOTATION_PREFIX}template-${credential.name}`,
        `credential ${credential.name} has a template but no ${ANNOTATION_PREFIX}role-${credential.name} or ${ANNOTATION_PREFIX}secret-${credential.name}`,
      );
    }
  }
  if (credentials.size === 0) {
    return invalid(
      INJECT,
      `asks for the agent but no credential is named (add ${ANNOTATION_PREFIX}role-<name> or ${ANNOTATION_PREFIX}secret-<name>)`,
    );
  }
  return { kind: 'inject', request: { mode, mountPath, credentials: [...credentials.values()] } };
}

/** A built-in template name, or a custom one made of text and `{{field}}` placeholders only. */
function templateProblem(template: string): string | undefined {
  if ((TEMPLATE_NAMES as readonly string[]).includes(template)) return undefined;
  if (!template.includes('{{')) {
    return `unknown template: use one of ${TEMPLATE_NAMES.join(', ')}, or a custom template with {{field}} placeholders`;
  }
  // What is left once every well-formed placeholder is removed must hold no braces: the agent's
  // language substitutes fields and nothing else (no expressions, no code).
  if (/\{\{|\}\}/.test(template.replace(PLACEHOLDER, ''))) {
    return 'a custom template may only hold {{field}} placeholders (a field is a letter or _ followed by letters, digits or _)';
  }
  return undefined;
}

function mountPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path';
  if (path === '/' || path.endsWith('/')) return 'must name a directory below / without a trailing /';
  if (path.split('/').some((segment, index) => index > 0 && (segment === '' || segment === '.' || segment === '..'))) {
    return 'must be a normalised path (no empty, . or .. segments)';
  }
  if (!/^[A-Za-z0-9_./-]+$/.test(path)) return 'may only hold letters, digits, _, ., - and /';
  return undefined;
}
