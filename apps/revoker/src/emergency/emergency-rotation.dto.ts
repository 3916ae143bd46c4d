import { z } from 'zod';

import { BackendKindSchema } from '@rotor/contracts';

const label = z.string().min(1).max(253);

/** Which leases and managed secrets an emergency rotation covers; fields combine with AND. */
export const EmergencySelectorSchema = z
  .strictObject({
    namespace: label.optional(),
    /** Needs `namespace`: a service-account name alone says nothing. */
    serviceAccount: label.optional(),
    role: label.optional(),
    backend: BackendKindSchema.optional(),
    secret: label.optional(),
    all: z.literal(true).optional(),
  })
  .refine((selector) => Object.values(selector).some((value) => value !== undefined), {
    message: 'must name at least one of namespace, serviceAccount, role, backend, secret, all',
  })
  .refine((selector) => !selector.all || Object.values(selector).filter((value) => value !== undefined).length === 1, {
    message: 'all cannot be combined with other fields',
    path: ['all'],
  })
  .refine((selector) => !selector.serviceAccount || selector.namespace, { message: 'needs namespace as well', path: ['serviceAccount'] });
export type EmergencySelector = z.infer<typeof EmergencySelectorSchema>;

export const RequestIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const StartEmergencyRotationBody = z.strictObject({
  selector: EmergencySelectorSchema,
  /** immediate: retire the previous versions as soon as the new ones exist; graceful: after confirmations or the grace period. */
  mode: z.enum(['immediate', 'graceful']),
  reason: z.string().trim().min(1, 'is required').max(1_000),
  requestId: RequestIdSchema.optional(),
});
export type StartEmergencyRotation = z.infer<typeof StartEmergencyRotationBody>;

export const EmergencyIdParam = z.uuid();
