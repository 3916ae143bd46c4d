import { z } from 'zod';

import type { AssertTrue, BackendKind, SameKinds, TargetKind } from '@rotor/contracts';

import { parseDuration } from './duration';
import { unsafeRedisAclRule } from './redis-acl-rules';
import { fileTargetPathProblem, isWebhookKeyEnv, WEBHOOK_KEY_ENV_MESSAGE, webhookReceiverOf } from './target-rules';

const name = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS-1123 label (lowercase letters, digits, -)');
const duration = z.string().transform((text, context) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    context.addIssue({ code: 'custom', message: 'must be a duration such as 90s, 15m, 1h or 7d' });
    return z.NEVER;
  }
  return ms;
});

const serviceAccountName = z
  .string()
  .regex(/^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/, 'must be a Kubernetes service account name (lowercase letters, digits, - and .)');

/** Who may use a role or secret: exact names or globs (`*`, `?`) on namespace and service account. */
const binding = z.object({
  namespace: z.string().min(1),
  serviceAccount: z.string().min(1),
});

const backend = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('opaque-token') }),
  z.object({
    kind: z.literal('postgres'),
    /** Statements run after CREATE ROLE; `{{role}}` is replaced with the quoted role name. */
    grants: z.array(z.string().min(1)).min(1),
  }),
  z.object({
    kind: z.literal('redis-acl'),
    /** ACL rules such as `+get`, `~orders:*`; never admin/dangerous commands or every key (redis-acl-rules.ts). */
    rules: z
      .array(
        z.string().regex(/^[+\-~%&][^\s]+$|^allchannels$|^resetchannels$|^allkeys$|^allcommands$/, 'must be one ACL rule without spaces'),
      )
      .min(1),
  }),
]);

const role = z
  .object({
    name,
    owner: z.string().min(1),
    backend,
    bindings: z.array(binding).min(1),
    ttl: duration,
    maxTtl: duration,
    quota: z
      .object({
        perWorkload: z.number().int().positive().default(50),
        perRole: z.number().int().positive().default(1000),
      })
      .default({ perWorkload: 50, perRole: 1000 }),
  })
  .refine((r) => r.maxTtl >= r.ttl, { message: 'must not be shorter than ttl', path: ['maxTtl'] })
  .superRefine((r, context) => {
    if (r.backend.kind !== 'redis-acl') return;
    r.backend.rules.forEach((rule, index) => {
      const unsafe = unsafeRedisAclRule(rule);
      if (unsafe) context.addIssue({ code: 'custom', message: `role ${r.name}: ${unsafe}`, path: ['backend', 'rules', index] });
    });
  });

export const ROLLOUT_KINDS = ['Deployment', 'StatefulSet'] as const;

/**
 * Opt-in, per kubernetes-secret target (off by default): after a new version is written, the
 * Deployments and StatefulSets in the Secret's namespace whose pod template references the
 * Secret get a pod-template annotation with the keyed content hash, so they roll.
 * `rollout: true` means every kind; `{ kinds: [Deployment] }` limits it. Parsed to
 * `{ kinds }` or undefined (off).
 */
const rollout = z
  .union([
    z.boolean(),
    z.strictObject({
      kinds: z
        .array(z.enum(ROLLOUT_KINDS))
        .min(1)
        .refine((kinds) => new Set(kinds).size === kinds.length, 'must not repeat a kind')
        .default([...ROLLOUT_KINDS]),
    }),
  ])
  .optional()
  .transform((value) => (value === true ? { kinds: [...ROLLOUT_KINDS] } : value === false ? undefined : value))
  // Optional in the parsed type too: targets built in code (tests, stored jobs) may leave it out.
  .optional();

const target = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('kubernetes-secret'),
    name,
    namespace: name,
    secretName: name,
    key: z.string().min(1).default('value'),
    repairDrift: z.boolean().default(false),
    rollout,
  }),
  z.object({
    kind: z.literal('file'),
    name,
    /** A directory under one of the distributor's ROTOR_FILE_TARGET_ROOTS, in normal form. */
    path: z.string().superRefine((path, context) => {
      const problem = fileTargetPathProblem(path);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    }),
    repairDrift: z.boolean().default(false),
  }),
  z.object({
    kind: z.literal('webhook'),
    name,
    url: z.url(),
    /**
     * The distributor's variable holding this receiver's keyring (`<variable>_FILE`: a file). One
     * per receiver: a receiver holding another's key could forge notices to it.
     */
    signingKeyEnv: z.string().refine(isWebhookKeyEnv, WEBHOOK_KEY_ENV_MESSAGE),
  }),
]);

const managedSecret = z.object({
  name,
  owner: z.string().min(1),
  generator: z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('random-bytes'),
      bytes: z.number().int().min(16).max(1024).default(32),
      encoding: z.enum(['base64url', 'hex']).default('base64url'),
    }),
    z.object({ kind: z.literal('password'), length: z.number().int().min(12).max(256).default(32) }),
  ]),
  rotationPeriod: duration,
  gracePeriod: duration,
  targets: z.array(target).default([]),
  bindings: z.array(binding).default([]),
  copies: z.enum(['report', 'remove']).default('report'),
});

export const CatalogSchema = z
  .object({
    roles: z.array(role).default([]),
    managedSecrets: z.array(managedSecret).default([]),
    policy: z.object({ maxTtlCeiling: duration.optional(), breakGlassMaxTtl: duration.optional() }).default({}),
    /**
     * Resource servers allowed to call POST /v1/introspect, by exact namespace and service
     * account (no globs: each one is a deliberate grant). Operators need rotor:introspect.
     */
    introspection: z
      .object({ allowed: z.array(z.strictObject({ namespace: name, serviceAccount: serviceAccountName })).default([]) })
      .default({ allowed: [] }),
  })
  .superRefine((catalog, context) => {
    const seen = new Set<string>();
    catalog.roles.forEach((r, index) => {
      if (seen.has(r.name)) context.addIssue({ code: 'custom', message: `duplicate role name ${r.name}`, path: ['roles', index, 'name'] });
      seen.add(r.name);
    });
    const secrets = new Set<string>();
    catalog.managedSecrets.forEach((s, index) => {
      if (secrets.has(s.name))
        context.addIssue({ code: 'custom', message: `duplicate managed secret ${s.name}`, path: ['managedSecrets', index, 'name'] });
      secrets.add(s.name);
    });
    refuseSharedWebhookKeys(catalog.managedSecrets, context);
  });

/** Two receivers never share a key variable; targets naming the same receiver URL may. */
function refuseSharedWebhookKeys(secrets: z.infer<typeof managedSecret>[], context: z.RefinementCtx): void {
  const firstUse = new Map<string, { receiver: string; label: string }>();
  secrets.forEach((secret, secretIndex) =>
    secret.targets.forEach((target, targetIndex) => {
      if (target.kind !== 'webhook') return;
      const label = `${secret.name}/${target.name} (${webhookReceiverOf(target.url)})`;
      const first = firstUse.get(target.signingKeyEnv);
      if (!first) return void firstUse.set(target.signingKeyEnv, { receiver: webhookReceiverOf(target.url), label });
      if (first.receiver === webhookReceiverOf(target.url)) return;
      context.addIssue({
        code: 'custom',
        message: `webhook targets ${first.label} and ${label} share ${target.signingKeyEnv}: each receiver needs a key of its own`,
        path: ['managedSecrets', secretIndex, 'targets', targetIndex, 'signingKeyEnv'],
      });
    }),
  );
}

export type Catalog = z.infer<typeof CatalogSchema>;
export type Role = Catalog['roles'][number];
export type ManagedSecret = Catalog['managedSecrets'][number];
export type Binding = Role['bindings'][number];
export type Target = ManagedSecret['targets'][number];
/** A role's settings for one backend kind: what that backend's issue() is given. */
export type BackendSettingsOf<K extends BackendKind> = Extract<Role['backend'], { kind: K }>;
/** A target of one kind, as the catalog declares it: what that kind's writer is given. */
export type TargetOf<K extends TargetKind> = Extract<Target, { kind: K }>;
export type RolloutKind = (typeof ROLLOUT_KINDS)[number];
/** A role's `backend` entry and a managed secret's target, one schema per kind (docs/extending.md). */
export const BackendSettingsSchema = backend;
export const TargetSchema = target;
// Compile-time: catalog settings for every backend and target kind of @rotor/contracts, and for no other.
type _SettingsForEveryBackend = AssertTrue<SameKinds<Role['backend']['kind'], BackendKind>>;
type _SchemaForEveryTarget = AssertTrue<SameKinds<Target['kind'], TargetKind>>;
