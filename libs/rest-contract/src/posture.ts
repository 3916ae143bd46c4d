import { z } from 'zod';

import { named } from './registry';

export const SeveritySchema = z.enum(['high', 'medium', 'low']);
export type Severity = z.infer<typeof SeveritySchema>;

/** In the report's order (after severity). */
export const FindingKindSchema = z.enum([
  'rotation-overdue',
  'irrevocable-lease',
  'drift',
  'manual-copy',
  'break-glass',
  'ttl-above-ceiling',
]);
export type FindingKind = z.infer<typeof FindingKindSchema>;

/** A published control a finding answers to: OWASP NHI Top 10 (2025) or NIST CSF 2.0. */
export const ReferenceSchema = z.object({
  framework: z.enum(['OWASP NHI Top 10 (2025)', 'NIST CSF 2.0']),
  id: z.string(),
  title: z.string(),
});
export type Reference = z.infer<typeof ReferenceSchema>;

export const FindingSchema = named(
  'PostureFinding',
  z.object({
    kind: FindingKindSchema,
    severity: SeveritySchema,
    /** What it is about: a secret, role, lease id, locator or break-glass id. */
    subject: z.string(),
    owner: z.string().optional(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
    references: z.array(ReferenceSchema),
  }),
);
export type Finding = z.infer<typeof FindingSchema>;

const count = z.number().int().min(0);

/** `GET /v1/reports/posture`: what needs someone's attention, with owners and references. */
export const PostureReportSchema = named(
  'PostureReport',
  z.object({
    generatedAt: z.iso.datetime({ offset: true }),
    summary: z.object({
      findings: count,
      bySeverity: z.record(SeveritySchema, count),
      byKind: z.record(FindingKindSchema, count),
    }),
    findings: z.array(FindingSchema),
    charts: z.object({
      /** Days since each managed secret's current version, against its rotation period. */
      rotationAge: z.array(
        z.object({ secret: z.string(), owner: z.string(), ageDays: z.number().optional(), periodDays: z.number(), overdue: z.boolean() }),
      ),
      /** Copies each secret has now: where rotor delivered it, and outside the inventory. */
      copies: z.array(z.object({ secret: z.string(), delivered: count, outside: count })),
    }),
  }),
  'The posture report',
);
export type PostureReport = z.infer<typeof PostureReportSchema>;
