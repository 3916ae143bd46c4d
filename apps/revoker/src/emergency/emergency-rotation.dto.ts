import { z } from 'zod';

import { EmergencyModeSchema, EmergencySelectorSchema, LeaseSelectorSchema } from '@rotor/rest-contract';

export const RequestIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const StartEmergencyRotationBody = z.strictObject({
  selector: EmergencySelectorSchema,
  /** immediate: retire the previous versions as soon as the new ones exist; graceful: after confirmations or the grace period. */
  mode: EmergencyModeSchema,
  reason: z.string().trim().min(1, 'is required').max(1_000),
  requestId: RequestIdSchema.optional(),
});
export type StartEmergencyRotation = z.infer<typeof StartEmergencyRotationBody>;

/** `POST /v1/lease-revocations`: an emergency run over leases only, so no mode. */
export const StartLeaseRevocationBody = z.strictObject({
  selector: LeaseSelectorSchema,
  reason: z.string().trim().min(1, 'is required').max(1_000),
  requestId: RequestIdSchema.optional(),
});
export type StartLeaseRevocation = z.infer<typeof StartLeaseRevocationBody>;

export const EmergencyIdParam = z.uuid();
