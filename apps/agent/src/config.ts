import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { parseDuration } from '@rotor/contracts';

import { BUILT_IN_SHAPES, parseTemplate } from './template';

/** `90s`, `5m`, or milliseconds as a number. */
const Duration = z.union([z.number().int().positive(), z.string()]).transform((value, context) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || ms <= 0) {
    context.addIssue({ code: 'custom', message: 'must be a duration such as 500ms, 30s, 5m' });
    return z.NEVER;
  }
  return ms;
});

const AbsolutePath = z.string().refine((path) => isAbsolute(path), 'must be an absolute path');

/** A file mode as an octal string (`"0440"`) or a number; never writable by others. */
const FileMode = z
  .union([z.string().regex(/^0?[0-7]{3}$/, 'must be an octal mode such as "0440"'), z.number().int().min(0).max(0o777)])
  .transform((value) => (typeof value === 'number' ? value : parseInt(value, 8)))
  .refine((mode) => (mode & 0o002) === 0, 'must not be writable by others');

const CredentialSchema = z
  .strictObject({
    /** The file's name in messages, metrics and the lease's task. */
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label (a-z, 0-9, -)'),
    /** A dynamic role of the catalog: a lease, renewed and replaced in sidecar mode. */
    role: z.string().min(1).max(63).optional(),
    /** A managed secret: its current version, followed in sidecar mode. */
    secret: z.string().min(1).max(63).optional(),
    file: AbsolutePath,
    /** A built-in shape (raw, env, json, postgres-url, redis-url); JSON by default for a role, raw for a secret. */
    template: z.enum(BUILT_IN_SHAPES).optional(),
    /** Or a text of its own with `{{field}}`, `{{field | url}}`, `{{field | json}}` (no code, no loops). */
    templateText: z
      .string()
      .max(64 * 1024)
      .optional(),
    /** For `raw`: which field is the file's content (the only one, or `value`/`token`, by default). */
    field: z.string().optional(),
    /** The TTL asked for (the role's by default). */
    ttl: z.union([z.number().int().positive(), z.string()]).optional(),
    mode: FileMode.default(0o440),
  })
  .superRefine((credential, context) => {
    if (Boolean(credential.role) === Boolean(credential.secret))
      context.addIssue({ code: 'custom', message: 'names either a role or a secret' });
    if (credential.template && credential.templateText !== undefined)
      context.addIssue({ code: 'custom', message: 'has either template or templateText', path: ['templateText'] });
    if (credential.templateText !== undefined) {
      const error = templateError(credential.templateText);
      if (error) context.addIssue({ code: 'custom', message: error, path: ['templateText'] });
    }
    if (credential.secret && credential.ttl !== undefined)
      context.addIssue({ code: 'custom', message: 'ttl applies to roles only', path: ['ttl'] });
  });
export type CredentialConfig = z.infer<typeof CredentialSchema>;

const Signal = z.enum(['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGTERM']);

const NotifySchema = z.union([
  /** Signal a process of the pod (a shared process namespace), its pid read from a file at each notice. */
  z.strictObject({ signal: Signal, pidFile: AbsolutePath }),
  /** Or every process of the pod with this command name (/proc/<pid>/comm, as `pkill -x` matches it), looked up at each notice. */
  z.strictObject({
    signal: Signal,
    process: z.string().regex(/^[^/\0\n]{1,15}$/, 'a command name as /proc/<pid>/comm holds it (1-15 characters, no /)'),
  }),
  /** Or run a command (execFile: no shell), its first element an absolute path. */
  z.strictObject({ command: z.tuple([AbsolutePath], z.string()), timeout: Duration.default(10_000) }),
]);
export type NotifyConfig = z.infer<typeof NotifySchema>;

export const AgentConfigSchema = z.strictObject({
  issuer: z.strictObject({
    url: z.url({ protocol: /^https?$/ }),
    /** The CA that signed the issuer's certificate; the system's CAs otherwise. */
    caFile: AbsolutePath.optional(),
    timeout: Duration.default(10_000),
    attempts: z.number().int().min(1).max(10).default(3),
  }),
  /** The projected service-account token (audience rotor); read again before every call. */
  tokenFile: AbsolutePath,
  /** Names the pod on every lease (`task`), so its revocation is traceable; POD_NAMESPACE/POD_NAME or the host name by default. */
  task: z
    .string()
    .regex(/^[\w.:/-]{1,96}$/)
    .optional(),
  credentials: z
    .array(CredentialSchema)
    .min(1)
    .refine((list) => new Set(list.map((credential) => credential.name)).size === list.length, 'names must be unique')
    .refine((list) => new Set(list.map((credential) => credential.file)).size === list.length, 'files must be distinct'),
  sidecar: z
    .strictObject({
      /** How often a managed secret's current version is asked for. */
      secretPollInterval: Duration.default(30_000),
      /**
       * How long a replaced lease lives on after the new one is in the file (never past its own
       * expiry): time for the application to reconnect before the old credential is revoked.
       */
      replacedLeaseGrace: Duration.default(5_000),
      /** /healthz, /readyz, /metrics; on the loopback interface by default (kubelet probes reach it through the pod IP only if host is 0.0.0.0). */
      listen: z
        .strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65_535).default(8099) })
        .prefault({}),
      notify: NotifySchema.optional(),
    })
    .prefault({}),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;

/** A problem with the configuration file: the message names the field, never a value of it. */
export class AgentConfigError extends Error {
  override readonly name = 'AgentConfigError';
}

/** Reads and validates the configuration (YAML, or JSON, which YAML reads too). */
export function loadAgentConfig(file: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new AgentConfigError(
      `cannot read the configuration ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return parseAgentConfig(text, file);
}

export function parseAgentConfig(text: string, source = 'configuration'): AgentConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new AgentConfigError(`${source} is not YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = AgentConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
  throw new AgentConfigError(`${source} is invalid: ${issues.join('; ')}`);
}

const templateError = (text: string): string | undefined => {
  try {
    parseTemplate(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
};
