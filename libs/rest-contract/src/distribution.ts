import { z } from 'zod';

import { TargetKindSchema } from '@rotor/contracts';

import { named } from './registry';

export const DeliveryStateSchema = z.enum(['pending', 'delivered', 'failed', 'skipped', 'removal-failed', 'removed']);
export type DeliveryState = z.infer<typeof DeliveryStateSchema>;

/** A copy of a managed secret the distributor made or tried to make: the target by kind and name, never its settings. */
export const DeliverySchema = named(
  'Delivery',
  z.object({
    secret: z.string(),
    version: z.number().int(),
    gsmVersion: z.string(),
    target: z.object({ kind: TargetKindSchema, name: z.string() }),
    locator: z.string().nullable(),
    state: DeliveryStateSchema,
    /** Keyed hash of what was written, never the value. */
    contentHash: z.string().nullable(),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    updatedAt: z.iso.datetime({ offset: true }),
  }),
);
export type Delivery = z.infer<typeof DeliverySchema>;

/** `GET /v1/deliveries?secret=…[&state=…]` */
export const DeliveryPageSchema = named('DeliveryPage', z.object({ secret: z.string(), items: z.array(DeliverySchema) }));
export type DeliveryPage = z.infer<typeof DeliveryPageSchema>;

export const DriftKindSchema = z.enum(['unaccounted', 'edited', 'retired-version', 'missing']);
export type DriftKind = z.infer<typeof DriftKindSchema>;

export const DriftFindingSchema = z.object({
  drift: DriftKindSchema,
  locator: z.string(),
  secret: z.string().optional(),
  target: z.string().optional(),
  version: z.number().int().optional(),
  /** The distributor put the expected version back (or removed what should not be there). */
  repaired: z.boolean(),
});
export type DriftFinding = z.infer<typeof DriftFindingSchema>;

/** `POST /v1/reconcile`: a drift scan of every declared target, run now. */
export const DriftScanReportSchema = named(
  'DriftScanReport',
  z.object({
    scannedTargets: z.number().int(),
    findings: z.array(DriftFindingSchema),
    errors: z.array(z.object({ target: z.string(), reason: z.string() })),
  }),
);
export type DriftScanReport = z.infer<typeof DriftScanReportSchema>;
