import { z } from 'zod';

import { checkpointSecretFor, REPEAT_WINDOW } from '@rotor/audit-chain';
import { EnvFragments, gsmSettings, parseEnv, serviceEnvShape, serviceSettings } from '@rotor/config';
import { Topics } from '@rotor/contracts';

const auditorEnv = {
  /** The audit log topic; another name only for an isolated installation or test. */
  ROTOR_AUDIT_TOPIC: z
    .string()
    .regex(
      /^rotor\.audit\.[a-z0-9.-]+$/,
      'must be rotor.audit.<name> (the prefix the broker ACLs and the never-delete retention rule know)',
    )
    .default(Topics.auditLog),
  /** The consumer group of the auditor's replicas: one group per audit log. */
  ROTOR_AUDITOR_GROUP: z.string().min(1).default('rotor-auditor'),
  /** Group members per process (each appends up to 4 partitions at once). */
  ROTOR_AUDITOR_CONSUMERS: z.coerce.number().int().min(1).max(16).default(4),
  /** Most events of one partition appended in one run; verifiers recognize a repeated run up to REPEAT_WINDOW records. */
  ROTOR_AUDIT_BATCH_SIZE: z.coerce.number().int().min(1).max(REPEAT_WINDOW).default(200),
  /** The Ed25519 key (PKCS#8 PEM) that signs checkpoints; its public half is served at /v1/audit/keys. */
  ROTOR_AUDIT_SIGNING_KEY_FILE: z.string().min(1),
  /** Older public keys (JWKS or PEM) still accepted when verifying, while a rotated key's checkpoints remain. */
  ROTOR_AUDIT_PUBLIC_KEYS_FILE: z.string().min(1).optional(),
  /** A signed checkpoint every interval, or after this many records, whichever comes first. */
  ROTOR_AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
  ROTOR_AUDIT_CHECKPOINT_RECORDS: z.coerce.number().int().min(1).default(10_000),
  /** The GSM secret whose versions keep each checkpoint outside Kafka; by default one per audit topic (checkpointSecretFor). */
  ROTOR_AUDIT_CHECKPOINT_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,255}$/)
    .optional(),
};

export function loadAuditorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(
    { ...serviceEnvShape(8083), ...EnvFragments.catalog, ...EnvFragments.keys.auditKey, ...EnvFragments.gsm, ...auditorEnv },
    env,
  );
  return {
    ...serviceSettings('auditor', e),
    auditKey: e.ROTOR_AUDIT_KEY,
    auditTopic: e.ROTOR_AUDIT_TOPIC,
    consumerGroup: e.ROTOR_AUDITOR_GROUP,
    consumersPerProcess: e.ROTOR_AUDITOR_CONSUMERS,
    batchSize: e.ROTOR_AUDIT_BATCH_SIZE,
    checkpoints: {
      signingKeyFile: e.ROTOR_AUDIT_SIGNING_KEY_FILE,
      publicKeysFile: e.ROTOR_AUDIT_PUBLIC_KEYS_FILE,
      intervalMs: e.ROTOR_AUDIT_CHECKPOINT_INTERVAL_MS,
      maxRecords: e.ROTOR_AUDIT_CHECKPOINT_RECORDS,
      gsmSecret: e.ROTOR_AUDIT_CHECKPOINT_SECRET ?? checkpointSecretFor(e.ROTOR_AUDIT_TOPIC),
    },
    gsm: gsmSettings(e),
    /** Read for bindings only ("who may read this secret"); the inventory itself comes from the audit log. */
    catalogFile: e.ROTOR_CATALOG,
  };
}

export type AuditorConfig = ReturnType<typeof loadAuditorConfig>;
