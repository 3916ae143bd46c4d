import { UsageError } from '../exit-codes';

import { readConfigFile, requireVerifiedPostgres, kafkaSecurityFromEnv } from '@rotor/config';
import { Topics } from '@rotor/contracts';
import type { KafkaLinkSecurity, LogPoint } from '@rotor/kafka';

/**
 * Where the CLI finds the audit log: the same variables the services read, secure by default
 * (the operators' principal is `cli-audit`, which may only read audit topics).
 */
export function auditLogSettings(env: NodeJS.ProcessEnv = process.env) {
  return {
    brokers: (env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',').map((broker) => broker.trim()),
    kafkaSecurity: kafkaSecurityFromEnv(env),
    kafkaNamespace: env['ROTOR_KAFKA_NAMESPACE'] ?? '',
    topic: env['ROTOR_AUDIT_TOPIC'] ?? Topics.auditLog,
    /** Only `--rebuild` writes the auditor's database, so its setting is read only then. */
    auditDatabaseUrl: () => auditDatabaseUrl(env),
    auditKey: env['ROTOR_AUDIT_KEY'],
  };
}

export async function cliKafka(brokers: string[], security?: KafkaLinkSecurity, namespace = '') {
  // Loaded when needed: kafkajs and the services' Kafka library (with their metrics and tracing)
  // cost every other command start-up time.
  const [{ Kafka, logLevel }, { inNamespace, KafkaNamespace, kafkaSecurityOptions }] = await Promise.all([
    import('kafkajs'),
    import('@rotor/kafka'),
  ]);
  return inNamespace(
    new Kafka({ clientId: 'rotor-cli', brokers, ...kafkaSecurityOptions(security), logLevel: logLevel.NOTHING, retry: { retries: 5 } }),
    new KafkaNamespace(namespace),
  );
}

/** A point in the log from a flag: an ISO time or an offset applied to every partition. */
export function parseLogPoint(text: string, flag: string): LogPoint {
  if (/^\d+$/.test(text)) return { offset: BigInt(text) };
  const time = new Date(text);
  if (Number.isNaN(time.getTime()))
    throw new UsageError(`--${flag}: expected an ISO time (2026-11-27T10:00:00Z) or an offset, got "${text}"`);
  return { time };
}

/** The auditor's database, as the auditor reads it: ROTOR_AUDIT_DATABASE_URL_FILE or ROTOR_AUDIT_DATABASE_URL. */
function auditDatabaseUrl(env: NodeJS.ProcessEnv): string {
  const file = env['ROTOR_AUDIT_DATABASE_URL_FILE'];
  const variable = file ? 'ROTOR_AUDIT_DATABASE_URL_FILE' : 'ROTOR_AUDIT_DATABASE_URL';
  const url = file ? readConfigFile(variable, file).trim() : env['ROTOR_AUDIT_DATABASE_URL'];
  if (!url) throw new UsageError("--rebuild writes the auditor's database: set ROTOR_AUDIT_DATABASE_URL_FILE or ROTOR_AUDIT_DATABASE_URL");
  const insecure = env['ROTOR_INSECURE_LOCAL'] === '1' || env['ROTOR_INSECURE_LOCAL'] === 'true';
  requireVerifiedPostgres(variable, url, insecure);
  return url;
}
