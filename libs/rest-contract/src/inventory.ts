import { z } from 'zod';

import { BackendKindSchema } from '@rotor/contracts';

import { named } from './registry';

/**
 * The auditor's inventory, read back from its audit views. Fields come from events, so most
 * are optional: an old or partial history leaves them unset.
 */
const Timestamp = z.iso.datetime({ offset: true });
const Binding = z.object({ namespace: z.string(), serviceAccount: z.string() });

export const InventoryLeaseStateSchema = z.enum(['active', 'expired', 'revoked', 'irrevocable']);
export type InventoryLeaseState = z.infer<typeof InventoryLeaseStateSchema>;

export const InventoryLeaseSchema = named(
  'InventoryLease',
  z.object({
    leaseId: z.string(),
    role: z.string().optional(),
    owner: z.string().optional(),
    backend: z.string().optional(),
    workload: z.object({ namespace: z.string().optional(), serviceAccount: z.string().optional(), podName: z.string().optional() }),
    task: z.string().optional(),
    state: InventoryLeaseStateSchema,
    issuedAt: Timestamp.optional(),
    expiresAt: Timestamp.optional(),
    maxExpiresAt: Timestamp.optional(),
    renewedAt: Timestamp.optional(),
    revokedAt: Timestamp.optional(),
    revokeReason: z.string().optional(),
    revocationAttempts: z.number().int().optional(),
    /** When it started to exist, and when it stopped (the earlier of revocation and expiry). */
    from: Timestamp.optional(),
    to: Timestamp.optional(),
  }),
  'A lease in the audit inventory',
);
export type InventoryLease = z.infer<typeof InventoryLeaseSchema>;

/** `GET /v1/inventory/leases`: a page of leases by selector, in id order; `next` continues it. */
export const LeasePageSchema = named(
  'LeasePage',
  z.object({
    items: z.array(InventoryLeaseSchema),
    /** Pass as `after` for the next page; absent on the last. */
    next: z.string().optional(),
    at: Timestamp,
  }),
  'A page of leases',
);
export type LeasePage = z.infer<typeof LeasePageSchema>;

export const VersionStateSchema = z.enum(['current', 'previous', 'retired']);
export type VersionState = z.infer<typeof VersionStateSchema>;

export const SecretVersionSchema = named(
  'SecretVersion',
  z.object({
    secret: z.string(),
    version: z.number().int(),
    gsmVersion: z.string().optional(),
    owner: z.string().optional(),
    reason: z.string().optional(),
    state: VersionStateSchema,
    createdAt: Timestamp.optional(),
    retiredAt: Timestamp.optional(),
    retireReason: z.string().optional(),
  }),
);
export type SecretVersion = z.infer<typeof SecretVersionSchema>;

export const CopyStateSchema = z.enum(['delivered', 'removed', 'failed', 'drifted', 'discovered']);
export type CopyState = z.infer<typeof CopyStateSchema>;

export const SecretCopySchema = named(
  'SecretCopy',
  z.object({
    id: z.string(),
    secret: z.string(),
    version: z.number().int().optional(),
    /** A delivery target, or `discovered:<where>` for a copy found outside the inventory. */
    target: z.object({ kind: z.string(), name: z.string() }),
    locator: z.string(),
    origin: z.enum(['delivery', 'discovered']),
    state: CopyStateSchema,
    /** Discovered copies: the secret's owner and how the value appeared (raw or base64). */
    owner: z.string().optional(),
    form: z.string().optional(),
    contentHash: z.string().optional(),
    deliveredAt: Timestamp.optional(),
    removedAt: Timestamp.optional(),
    removeReason: z.string().optional(),
    failure: z.string().optional(),
    drift: z.string().optional(),
    from: Timestamp.optional(),
    to: Timestamp.optional(),
  }),
  'A copy of a secret version: delivered by rotor or found outside the inventory',
);
export type SecretCopy = z.infer<typeof SecretCopySchema>;

/** `GET /v1/inventory/secrets/{name}` */
export const SecretInventorySchema = named(
  'SecretInventory',
  z.object({
    secret: z.string(),
    owner: z.string().optional(),
    inCatalog: z.boolean(),
    currentVersion: z.number().int().optional(),
    versions: z.array(SecretVersionSchema),
    copies: z.array(SecretCopySchema),
    /** The workloads the catalog lets read it. */
    boundReaders: z.array(Binding),
    at: Timestamp,
  }),
);
export type SecretInventory = z.infer<typeof SecretInventorySchema>;

/** `GET /v1/inventory/workloads/{namespace}/{serviceAccount}` */
export const WorkloadInventorySchema = named(
  'WorkloadInventory',
  z.object({
    workload: Binding,
    leases: z.array(InventoryLeaseSchema),
    secrets: z.array(z.object({ secret: z.string(), owner: z.string(), currentVersion: z.number().int().optional() })),
    roles: z.array(z.object({ role: z.string(), owner: z.string(), backend: BackendKindSchema })),
    at: Timestamp,
  }),
);
export type WorkloadInventory = z.infer<typeof WorkloadInventorySchema>;

/** `GET /v1/inventory/owners/{owner}` */
export const OwnerInventorySchema = named(
  'OwnerInventory',
  z.object({
    owner: z.string(),
    roles: z.array(
      z.object({ role: z.string(), backend: BackendKindSchema, ttlMs: z.number(), maxTtlMs: z.number(), bindings: z.array(Binding) }),
    ),
    secrets: z.array(
      z.object({
        secret: z.string(),
        inCatalog: z.boolean(),
        rotationPeriodMs: z.number().optional(),
        currentVersion: z.number().int().optional(),
        currentSince: Timestamp.optional(),
        copies: z.array(SecretCopySchema),
      }),
    ),
    leases: z.array(InventoryLeaseSchema),
    at: Timestamp,
  }),
);
export type OwnerInventory = z.infer<typeof OwnerInventorySchema>;

/** `GET /v1/inventory/at?time=…`: what existed at that time. */
export const InventoryAtSchema = named(
  'InventoryAt',
  z.object({
    at: Timestamp,
    leases: z.array(InventoryLeaseSchema),
    versions: z.array(SecretVersionSchema),
    copies: z.array(SecretCopySchema),
  }),
);
export type InventoryAt = z.infer<typeof InventoryAtSchema>;
