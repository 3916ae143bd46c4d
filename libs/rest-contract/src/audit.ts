import { z } from 'zod';

import { AuditRecordSchema } from '@rotor/contracts';

import { named } from './registry';

/** `GET /v1/audit/events`: one page of the matching audit records, and how many match in all. */
export const AuditEventsPageSchema = named(
  'AuditEventsPage',
  z.object({
    items: z.array(named('AuditRecord', AuditRecordSchema, 'A record of the audit log (rotor.audit.log.v1)')),
    total: z.number().int(),
    offset: z.number().int(),
    limit: z.number().int(),
  }),
);
export type AuditEventsPage = z.infer<typeof AuditEventsPageSchema>;
