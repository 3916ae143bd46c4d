import { z } from 'zod';

import { checkpointSecretFor, REPEAT_WINDOW } from '@rotor/audit-chain';
import {
  ConfigError,
  EnvFragments,
  gsmSettings,
  parseEnv,
  readConfigFile,
  requireVerifiedPostgres,
  serviceEnvShape,
  serviceSettings,
} from '@rotor/config';
import { Topics } from '@rotor/contracts';

const auditorEnv = {
  ROTOR_AUDIT_TOPIC: z
    .string()
    .regex(
      /^rotor\.audit\.[a-z0-9.-]+$/,
      'must be rotor.audit.<name> (the prefix the broker ACLs and the never-delete retention rule know)',
    )
    .default(Topics.auditLog)
    .describe('The audit log topic; another name (rotor.audit.<name>) only for an isolated installation or a test.'),
  ROTOR_AUDITOR_GROUP: z
    .string()
    .min(1)
    .default('rotor-auditor')
    .describe("The consumer group of the auditor's replicas: one group per audit log."),
  ROTOR_AUDITOR_CONSUMERS: z.coerce
    .number()
    .int()
    .min(1)
    .max(16)
    .default(4)
    .describe('Group members per process (each appends up to 4 partitions at once); raise it with the partitions for more throughput.'),
  ROTOR_AUDIT_FETCH_WAIT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000)
    .default(100)
    .describe(
      'How long the broker may hold a fetch for more events before the auditor appends what came: larger runs (fewer database round trips per event) for up to this much added audit lag; 0 appends each fetch at once.',
    ),
  ROTOR_AUDIT_BATCH_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(REPEAT_WINDOW)
    .default(200)
    .describe('Most events of one partition appended in one run; verifiers recognize a repeated run up to REPEAT_WINDOW records.'),
  ROTOR_AUDIT_SIGNING_KEY_FILE: z
    .string()
    .min(1)
    .describe('The Ed25519 key (PKCS#8 PEM) that signs checkpoints; its public half is served at /v1/audit/keys.'),
  ROTOR_AUDIT_PUBLIC_KEYS_FILE: z
    .string()
    .min(1)
    .optional()
    .describe("Older public keys (JWKS or PEM) still accepted when verifying, while a rotated key's checkpoints remain."),
  ROTOR_AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(3_600_000)
    .default(60_000)
    .describe('A signed checkpoint every interval (or after ROTOR_AUDIT_CHECKPOINT_RECORDS records, whichever comes first).'),
  ROTOR_AUDIT_CHECKPOINT_RECORDS: z.coerce
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('A signed checkpoint after this many records (or ROTOR_AUDIT_CHECKPOINT_INTERVAL_MS, whichever comes first).'),
  ROTOR_AUDIT_DATABASE_URL: z
    .string()
    .min(1)
    .default('postgres://rotor_auditor:rotor_auditor@127.0.0.1:5432/rotor_audit')
    .describe(
      "The auditor's own PostgreSQL database and role, for its chain heads and views (never DATABASE_URL); sslmode=verify-full unless ROTOR_INSECURE_LOCAL=1.",
    ),
  ROTOR_AUDIT_DATABASE_URL_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('ROTOR_AUDIT_DATABASE_URL in a mounted file instead (it holds the password); wins when both are set.'),
  ROTOR_AUDIT_DEDUPE_DAYS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(30)
    .describe('How long, in days, an event id is remembered to drop a redelivered duplicate (the dedupe window).'),
  ROTOR_AUDIT_ONLINE_MONTHS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1200)
    .default(0)
    .describe(
      'Months of records kept online in the views, older months detached for archiving (0: all); the audit topic keeps everything.',
    ),
  ROTOR_AUDIT_VERIFY_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(1_800_000)
    .describe(
      'How often the auditor verifies the whole audit log itself (rotor_audit_chain_broken, the RotorAuditChainBroken alert); 0: only when asked (GET /v1/audit/verify).',
    ),
  ROTOR_AUDIT_CHECKPOINT_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,255}$/)
    .optional()
    .describe('The GSM secret whose versions keep each checkpoint outside Kafka; by default one per audit topic.'),
};

/** Every variable the auditor reads, with its meaning (the configuration reference is rendered from it). */
export const auditorEnvShape = {
  ...serviceEnvShape(8083),
  ...EnvFragments.catalog,
  ...EnvFragments.keys.auditKey,
  ...EnvFragments.gsm,
  ...auditorEnv,
};

export function loadAuditorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(auditorEnvShape, env);
  return {
    ...serviceSettings('auditor', e),
    auditKey: e.ROTOR_AUDIT_KEY,
    auditTopic: e.ROTOR_AUDIT_TOPIC,
    consumerGroup: e.ROTOR_AUDITOR_GROUP,
    consumersPerProcess: e.ROTOR_AUDITOR_CONSUMERS,
    batchSize: e.ROTOR_AUDIT_BATCH_SIZE,
    fetchWaitMs: e.ROTOR_AUDIT_FETCH_WAIT_MS,
    checkpoints: {
      signingKeyFile: e.ROTOR_AUDIT_SIGNING_KEY_FILE,
      publicKeysFile: e.ROTOR_AUDIT_PUBLIC_KEYS_FILE,
      intervalMs: e.ROTOR_AUDIT_CHECKPOINT_INTERVAL_MS,
      maxRecords: e.ROTOR_AUDIT_CHECKPOINT_RECORDS,
      gsmSecret: e.ROTOR_AUDIT_CHECKPOINT_SECRET ?? checkpointSecretFor(e.ROTOR_AUDIT_TOPIC),
    },
    gsm: gsmSettings(e),
    database: {
      url: auditDatabaseUrl(e.ROTOR_AUDIT_DATABASE_URL, e.ROTOR_AUDIT_DATABASE_URL_FILE, e.ROTOR_INSECURE_LOCAL),
      statementTimeoutMs: 30_000,
    },
    retention: { dedupeDays: e.ROTOR_AUDIT_DEDUPE_DAYS, onlineMonths: e.ROTOR_AUDIT_ONLINE_MONTHS },
    verifyIntervalMs: e.ROTOR_AUDIT_VERIFY_INTERVAL_MS,
    /** Read for bindings only ("who may read this secret"); the inventory itself comes from the audit log. */
    catalogFile: e.ROTOR_CATALOG,
  };
}

/** The audit database's URL, from the file when one is named; verified TLS unless the stack is explicitly insecure. */
function auditDatabaseUrl(plain: string, file: string | undefined, insecureAllowed: boolean): string {
  const variable = file ? 'ROTOR_AUDIT_DATABASE_URL_FILE' : 'ROTOR_AUDIT_DATABASE_URL';
  const url = file ? readConfigFile(variable, file).trim() : plain;
  if (!URL.canParse(url) || !['postgres:', 'postgresql:'].includes(new URL(url).protocol))
    throw new ConfigError([`${variable}: must be a postgres:// URL`]);
  requireVerifiedPostgres(variable, url, insecureAllowed);
  return url;
}

export type AuditorConfig = ReturnType<typeof loadAuditorConfig>;
