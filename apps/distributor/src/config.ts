import { z } from 'zod';

import { fileTargetPathProblem } from '@rotor/catalog';
import type { TargetKind } from '@rotor/contracts';
import { EnvFragments, gsmSettings, keyringFrom, parseEnv, serviceEnvShape, serviceSettings } from '@rotor/config';

/** Every variable the distributor reads, with its meaning (the configuration reference is rendered from it). */
export const distributorEnvShape = {
  ...serviceEnvShape(8082),
  ...EnvFragments.gsm,
  ...EnvFragments.catalog,
  ...EnvFragments.keys.contentHashKey,
  ROTOR_DELIVERY_POLL_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(200)
    .describe('How often each replica looks for due deliveries; lower means copies land sooner, at more Redis calls.'),
  ROTOR_DELIVERY_VISIBILITY_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(3_600_000)
    .default(60_000)
    .describe('How long a claimed delivery (and its target lock) stays with one replica; longer than the slowest target write.'),
  ROTOR_DELIVERY_CONCURRENCY_KUBERNETES: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(16)
    .describe('Kubernetes Secret copies written at once per replica, so that a slow kind of target cannot starve the others.'),
  ROTOR_DELIVERY_CONCURRENCY_FILE: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(16)
    .describe('File copies written at once per replica, so that a slow kind of target cannot starve the others.'),
  ROTOR_DELIVERY_CONCURRENCY_WEBHOOK: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(32)
    .describe('Webhook notices sent at once per replica, so that a slow kind of target cannot starve the others.'),
  ROTOR_DELIVERY_MAX_BACKOFF_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(3_600_000)
    .default(60_000)
    .describe('The longest wait between retries of a failing delivery; lower it to notice a repaired target sooner.'),
  ROTOR_WEBHOOK_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(120_000)
    .default(10_000)
    .describe('How long a webhook receiver may take to answer before the delivery counts as failed and is retried.'),
  ROTOR_FILE_TARGET_ROOTS: z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((root) => root.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z
          .string()
          .refine((root) => root === '/' || !fileTargetPathProblem(root), 'must be absolute normalised directories separated by commas'),
      ),
    )
    .default([])
    .describe('Absolute directories (comma list) file targets may be written under; unset, a catalog with a file target does not load.'),
  ROTOR_DRIFT_SCAN_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400_000)
    .default(300_000)
    .describe('Period of the drift scan of delivered copies; 0 turns the periodic scan off (POST /v1/reconcile still works).'),
  ROTOR_COPY_SCAN_NAMESPACES: z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be namespace names separated by commas')))
    .optional()
    .describe("Namespaces scanned for manual copies (comma list); unset, the namespaces of the catalog's Secret targets."),
  ROTOR_COPY_SCAN_RETIRED_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3_650)
    .default(30)
    .describe('How many days after its retirement a secret version is still looked for in manual copies.'),
  ROTOR_COPY_SCAN_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400_000)
    .default(900_000)
    .describe('Period of the cluster scan for manual copies; 0 turns it off (POST /v1/copy-scan still works).'),
};

export function loadDistributorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(distributorEnvShape, env);
  return {
    ...serviceSettings('distributor', e),
    gsm: gsmSettings(e),
    catalogFile: e.ROTOR_CATALOG,
    kubeconfig: e.KUBECONFIG,
    contentHashKeys: keyringFrom('ROTOR_CONTENT_HASH_KEY', e),
    fileTargetRoots: e.ROTOR_FILE_TARGET_ROOTS,
    delivery: {
      pollMs: e.ROTOR_DELIVERY_POLL_MS,
      visibilityMs: e.ROTOR_DELIVERY_VISIBILITY_MS,
      maxBackoffMs: e.ROTOR_DELIVERY_MAX_BACKOFF_MS,
      concurrency: {
        'kubernetes-secret': e.ROTOR_DELIVERY_CONCURRENCY_KUBERNETES,
        file: e.ROTOR_DELIVERY_CONCURRENCY_FILE,
        webhook: e.ROTOR_DELIVERY_CONCURRENCY_WEBHOOK,
      } satisfies Record<TargetKind, number>,
    },
    webhook: { timeoutMs: e.ROTOR_WEBHOOK_TIMEOUT_MS },
    driftScanMs: e.ROTOR_DRIFT_SCAN_MS,
    copyScan: { namespaces: e.ROTOR_COPY_SCAN_NAMESPACES, retiredDays: e.ROTOR_COPY_SCAN_RETIRED_DAYS, periodMs: e.ROTOR_COPY_SCAN_MS },
  };
}

export type DistributorConfig = ReturnType<typeof loadDistributorConfig>;
