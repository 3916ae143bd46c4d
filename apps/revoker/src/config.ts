import { z } from 'zod';

import { backendSettings, EnvFragments, gsmSettings, parseEnv, serviceEnvShape, serviceSettings } from '@rotor/config';

/** Every variable the revoker reads, with its meaning (the configuration reference is rendered from it). */
export const revokerEnvShape = {
  ...serviceEnvShape(8081),
  ...EnvFragments.backends,
  ...EnvFragments.gsm,
  ...EnvFragments.catalog,
  ...EnvFragments.dedupe,
  ROTOR_SCHEDULE_SHARDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(1)
    .describe('Redis keys the lease-expiry schedule is spread over; more only when one sorted set is too hot for one Redis Cluster node.'),
  ROTOR_REVOKE_POLL_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(250)
    .describe(
      'How often each replica looks for due leases (and retirements, break-glass ends); lower means less revocation lag, more Redis calls.',
    ),
  ROTOR_REVOKE_BATCH: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(200)
    .describe('Most due leases one poll claims; raise it when a burst of expiries leaves revocation lagging.'),
  ROTOR_REVOKE_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(32)
    .describe('Revocations one replica runs at once; bounded by what the backends (PostgreSQL, Redis ACL) take.'),
  ROTOR_REVOKE_VISIBILITY_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(3_600_000)
    .default(30_000)
    .describe(
      'How long a claimed lease stays hidden from other replicas; a replica that dies mid-revocation leaves it to be claimed again after this.',
    ),
  ROTOR_REVOKE_MAX_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(8)
    .describe(
      'Failed revocation attempts (with backoff up to a minute) after which a lease is marked irrevocable and an operator is needed.',
    ),
  ROTOR_IRREVOCABLE_RETRY_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(86_400_000)
    .default(60_000)
    .describe('How often an irrevocable lease is still tried again, so it ends by itself once its backend is repaired.'),
  ROTOR_EMERGENCY_BATCH: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(500)
    .describe('Leases an emergency rotation snapshots or asks to revoke per checkpointed step.'),
  ROTOR_EMERGENCY_POLL_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(500)
    .describe('How often a running emergency rotation is re-examined (and, at most, how often its progress is published).'),
  ROTOR_BREAKGLASS_FOLLOWUP_CHECK_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(86_400_000)
    .default(300_000)
    .describe('After a break-glass access ends, how long its follow-up rotations may take before they are requested again.'),
  ROTOR_RECONCILE_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(86_400_000)
    .default(300_000)
    .describe('How often the reconciliation sweep compares the backends and the catalog with the leases (one replica at a time).'),
  ROTOR_RECONCILE_MARGIN_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(604_800_000)
    .default(900_000)
    .describe(
      'How long a credential must be seen without a live lease before it is revoked as an orphan (covers issuance-to-tracking lag).',
    ),
  ROTOR_CATALOG_WITHDRAWAL_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(2_592_000_000)
    .default(900_000)
    .describe('How long a lease the catalog no longer allows (role or binding dropped) lives on before it is revoked.'),
  ROTOR_POD_SWEEP_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400_000)
    .default(30_000)
    .describe(
      'How often leases whose token named a pod are checked against the pods the API server lists, and revoked once their pod is gone (0 turns it off; off without KUBECONFIG or an in-cluster token).',
    ),
  ROTOR_POD_SWEEP_MARGIN_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(60_000)
    .describe('How old a pod-bound lease must be before a pod missing from the list ends it (covers a list that lags the issue).'),
};

export function loadRevokerConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(revokerEnvShape, env);
  return {
    ...serviceSettings('revoker', e),
    backends: backendSettings(e),
    gsm: gsmSettings(e),
    catalogFile: e.ROTOR_CATALOG,
    schedule: { shards: e.ROTOR_SCHEDULE_SHARDS },
    /** How long a revoked lease's record is kept, deduplicating late events about it. */
    dedupeWindowMs: e.ROTOR_DEDUPE_WINDOW_SECONDS * 1000,
    revocation: {
      pollMs: e.ROTOR_REVOKE_POLL_MS,
      batch: e.ROTOR_REVOKE_BATCH,
      concurrency: e.ROTOR_REVOKE_CONCURRENCY,
      visibilityMs: e.ROTOR_REVOKE_VISIBILITY_MS,
      maxAttempts: e.ROTOR_REVOKE_MAX_ATTEMPTS,
      irrevocableRetryMs: e.ROTOR_IRREVOCABLE_RETRY_MS,
    },
    breakGlass: { followUpCheckMs: e.ROTOR_BREAKGLASS_FOLLOWUP_CHECK_MS },
    reconciliation: {
      intervalMs: e.ROTOR_RECONCILE_INTERVAL_MS,
      marginMs: e.ROTOR_RECONCILE_MARGIN_MS,
      withdrawalGraceMs: e.ROTOR_CATALOG_WITHDRAWAL_GRACE_MS,
    },
    emergency: {
      batch: e.ROTOR_EMERGENCY_BATCH,
      pollMs: e.ROTOR_EMERGENCY_POLL_MS,
    },
    podSweep: {
      intervalMs: e.ROTOR_POD_SWEEP_MS,
      marginMs: e.ROTOR_POD_SWEEP_MARGIN_MS,
      /** Unset: the in-cluster service account, when the pod has one. */
      kubeconfig: e.KUBECONFIG,
    },
  };
}

export type RevokerConfig = ReturnType<typeof loadRevokerConfig>;
