import { z } from 'zod';

import { REPEAT_WINDOW } from '@rotor/audit-chain';
import { EnvFragments, parseEnv, serviceEnvShape, serviceSettings } from '@rotor/config';
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
};

export function loadAuditorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv({ ...serviceEnvShape(8083), ...EnvFragments.catalog, ...EnvFragments.keys.auditKey, ...auditorEnv }, env);
  return {
    ...serviceSettings('auditor', e),
    auditKey: e.ROTOR_AUDIT_KEY,
    auditTopic: e.ROTOR_AUDIT_TOPIC,
    consumerGroup: e.ROTOR_AUDITOR_GROUP,
    consumersPerProcess: e.ROTOR_AUDITOR_CONSUMERS,
    batchSize: e.ROTOR_AUDIT_BATCH_SIZE,
    /** Read for bindings only ("who may read this secret"); the inventory itself comes from the audit log. */
    catalogFile: e.ROTOR_CATALOG,
  };
}

export type AuditorConfig = ReturnType<typeof loadAuditorConfig>;
