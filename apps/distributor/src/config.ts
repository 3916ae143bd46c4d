import { z } from 'zod';

import { fileTargetPathProblem } from '@rotor/catalog';
import type { TargetKind } from '@rotor/contracts';
import { EnvFragments, gsmSettings, keyringFrom, parseEnv, serviceEnvShape, serviceSettings } from '@rotor/config';

export function loadDistributorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(
    {
      ...serviceEnvShape(8082),
      ...EnvFragments.gsm,
      ...EnvFragments.catalog,
      ...EnvFragments.keys.contentHashKey,
      /** A kubeconfig for the API server that holds kubernetes-secret targets; unset means in-cluster. */
      KUBECONFIG: z.string().min(1).optional(),
      ROTOR_DELIVERY_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(200),
      ROTOR_DELIVERY_VISIBILITY_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
      /** Copies written at once per target kind: a slow kind cannot starve the others. */
      ROTOR_DELIVERY_CONCURRENCY_KUBERNETES: z.coerce.number().int().min(1).max(1_000).default(16),
      ROTOR_DELIVERY_CONCURRENCY_FILE: z.coerce.number().int().min(1).max(1_000).default(16),
      ROTOR_DELIVERY_CONCURRENCY_WEBHOOK: z.coerce.number().int().min(1).max(1_000).default(32),
      ROTOR_DELIVERY_MAX_BACKOFF_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
      ROTOR_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
      /** Directories file targets may be written under (comma list); unset: no file targets. */
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
              .refine(
                (root) => root === '/' || !fileTargetPathProblem(root),
                'must be absolute normalised directories separated by commas',
              ),
          ),
        )
        .default([]),
      /** Period of the drift scan; 0 turns the periodic scan off (POST /v1/reconcile still works). */
      ROTOR_DRIFT_SCAN_MS: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
      /** Namespaces scanned for manual copies (comma list); unset: the namespaces of the catalog's Secret targets. */
      ROTOR_COPY_SCAN_NAMESPACES: z
        .string()
        .transform((text) =>
          text
            .split(',')
            .map((name) => name.trim())
            .filter(Boolean),
        )
        .pipe(z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be namespace names separated by commas')))
        .optional(),
      /** Retired versions are looked for this many days after their retirement. */
      ROTOR_COPY_SCAN_RETIRED_DAYS: z.coerce.number().int().min(0).max(3_650).default(30),
      /** Period of the cluster scan for manual copies; 0 turns it off (POST /v1/copy-scan still works). */
      ROTOR_COPY_SCAN_MS: z.coerce.number().int().min(0).max(86_400_000).default(900_000),
    },
    env,
  );
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
