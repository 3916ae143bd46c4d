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

const count = z.number().int().min(0);

/** `GET /v1/audit/verify`: the whole audit topic checked, chains and signed checkpoints, and where it first breaks. */
export const AuditVerifyReportSchema = named(
  'AuditVerifyReport',
  z.object({
    ok: z.boolean(),
    records: count,
    duplicatesSkipped: count,
    chains: count,
    /** Chains whose verification started mid-chain. */
    anchoredChains: count,
    /** Records from before SHA-256 links; checked only with ROTOR_AUDIT_KEY. */
    legacyRecords: count,
    legacyChecked: z.boolean(),
    checkpoints: z.object({
      count,
      last: z.object({ number: z.number().int(), issuedAt: z.iso.datetime({ offset: true }), keyId: z.string() }).optional(),
      /** Records after the last checkpoint that vouches for them: not yet protected by a signature. */
      unanchoredTail: count,
      startedAtCheckpoint: count,
      /** The checkpoint kept outside Kafka (GSM). */
      external: z.object({ number: z.number().int(), issuedAt: z.iso.datetime({ offset: true }) }).optional(),
    }),
    failures: z.array(z.string()).optional(),
    firstBreak: z
      .object({ partition: z.number().int(), offset: z.string(), chain: z.string(), seq: z.number().int(), reason: z.string() })
      .optional(),
    /** A message on the topic that is neither a record nor a checkpoint. */
    firstUnreadable: z.object({ partition: z.number().int(), offset: z.string() }).optional(),
    tookMs: z.number(),
  }),
);
export type AuditVerifyReport = z.infer<typeof AuditVerifyReportSchema>;

/** `GET /v1/audit/keys`: the Ed25519 public keys that verify the audit checkpoints (RFC 7517 JWK set). */
export const AuditKeySetSchema = named(
  'AuditKeySet',
  z.object({
    keys: z.array(
      z.object({
        kty: z.literal('OKP'),
        crv: z.literal('Ed25519'),
        x: z.string(),
        kid: z.string(),
        use: z.literal('sig'),
        alg: z.literal('EdDSA'),
      }),
    ),
  }),
  'The audit checkpoint verification keys, as a JWK set',
);
export type AuditKeySet = z.infer<typeof AuditKeySetSchema>;
