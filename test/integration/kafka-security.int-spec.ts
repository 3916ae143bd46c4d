/**
 * The broker is the trust boundary between stages (DESIGN §14): against the real secured
 * broker, a client without credentials, with a wrong password or speaking plaintext is
 * refused, and each service principal may write only what docs/access-policy.md says.
 * Each refusal is paired with the same principal doing what it is allowed to, so a test
 * cannot pass merely because nothing works.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';

import { Topics } from '@rotor/contracts';
import { EventPublisher, isKafkaAuthorizationFailure, KafkaAuthorizationError, kafkaSecurityOptions } from '@rotor/kafka';

import { kafkaFromEnv } from '../../tools/security/env-clients';
import { principalEnv } from '../support/principals';
import { requiredEnv } from '../support/services-env';

const brokers = requiredEnv('KAFKA_BROKERS').split(',');
const ca = readFileSync(requiredEnv('KAFKA_SSL_CA_FILE'), 'utf8');
const SECRETS = join(__dirname, '..', '..', '.rotor', 'secrets');

const client = (overrides: Partial<KafkaConfig>): Kafka =>
  new Kafka({
    clientId: 'rotor-test-kafka-security',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 0 },
    ...overrides,
  });

/** A service's own principal, exactly as the service connects. */
const asPrincipal = (name: 'issuer' | 'revoker' | 'distributor' | 'auditor' | 'cli') =>
  kafkaFromEnv(`rotor-test-as-${name}`, { ...process.env, ...principalEnv(name) }, { retry: { retries: 2, initialRetryTime: 100 } });

async function connectAdmin(kafka: Kafka): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await admin.listTopics();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Topics the publisher reported refused (what the services count in rotor_kafka_authorization_failures_total). */
const refusedTopics: string[] = [];

async function produce(kafka: Kafka, topic: string): Promise<void> {
  const publisher = new EventPublisher(kafka, (refused) => refusedTopics.push(refused));
  await publisher.connect();
  try {
    await publisher.send([{ topic, key: 'kafka-security-test', value: JSON.stringify({ probe: randomUUID() }) }]);
  } finally {
    await publisher.disconnect();
  }
}

async function readOne(kafka: Kafka, topic: string, groupId: string): Promise<void> {
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      consumer.on(consumer.events.GROUP_JOIN, () => resolve());
      consumer.run({ eachMessage: async () => undefined }).catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

describe('Kafka: SASL_SSL, one principal per service, ACLs from the access table', () => {
  const adminPassword = readFileSync(join(SECRETS, 'kafka-admin.password'), 'utf8').trim();

  it('lets the admin principal in over TLS with its password (the control for the refusals below)', async () => {
    const topics = await connectAdmin(
      client({ ssl: { ca: [ca] }, sasl: { mechanism: 'scram-sha-512', username: 'admin', password: adminPassword } }),
    );
    expect(topics).toContain(Topics.leaseRevoked);
  });

  it('refuses a wrong password, a client without credentials, and plaintext', async () => {
    await expect(
      connectAdmin(client({ ssl: { ca: [ca] }, sasl: { mechanism: 'scram-sha-512', username: 'admin', password: `${adminPassword}x` } })),
    ).rejects.toThrow(/authentication failed/i);
    await expect(connectAdmin(client({ ssl: { ca: [ca] } }))).rejects.toThrow();
    await expect(
      connectAdmin(client({ sasl: { mechanism: 'scram-sha-512', username: 'admin', password: adminPassword } })),
    ).rejects.toThrow();
    await expect(connectAdmin(client({}))).rejects.toThrow();
  });

  it('refuses a broker certificate it does not trust', async () => {
    // Node's default roots only: the local CA is not among them.
    const error = await connectAdmin(
      client({ ssl: { ca: [] as string[] }, sasl: { mechanism: 'scram-sha-512', username: 'admin', password: adminPassword } }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).toMatch(/certificate|self[- ]signed|closed|Connection/i);
  });

  it('passes a client certificate for mTLS listeners (the broker-internal one requires it)', async () => {
    const pki = join(__dirname, '..', '..', '.rotor', 'tls');
    const internal = { brokers: ['127.0.0.1:9094'] };
    // Without a certificate the handshake fails; with one the CA signed (here the broker's own,
    // the only super user on that listener) the same client is let in.
    await expect(connectAdmin(client({ ...internal, ssl: { ca: [ca] } }))).rejects.toThrow();
    const withCertificate = kafkaSecurityOptions({
      ssl: { ca, cert: readFileSync(join(pki, 'kafka-broker.crt'), 'utf8'), key: readFileSync(join(pki, 'kafka-broker.key'), 'utf8') },
    });
    expect(await connectAdmin(client({ ...internal, ...withCertificate }))).toContain(Topics.leaseIssued);
  });

  it('lets the revoker announce a revocation, and refuses the distributor the same topic', async () => {
    await produce(asPrincipal('revoker'), Topics.leaseRevoked);
    refusedTopics.length = 0;
    const refused = await produce(asPrincipal('distributor'), Topics.leaseRevoked).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KafkaAuthorizationError);
    expect((refused as Error).message).toMatch(/rotor\.lease\.revoked\.v1 \(TOPIC_AUTHORIZATION_FAILED\)/);
    expect(isKafkaAuthorizationFailure((refused as Error).cause)).toBe(true);
    expect(refusedTopics).toEqual([Topics.leaseRevoked]); // counted once, by topic
  }, 60_000);

  it('lets only the auditor write the audit log', async () => {
    await produce(asPrincipal('issuer'), Topics.access); // the issuer can write its own topics
    await expect(produce(asPrincipal('issuer'), Topics.auditLog)).rejects.toBeInstanceOf(KafkaAuthorizationError);
    // The operators' principal writes nothing at all.
    await expect(produce(asPrincipal('cli'), Topics.auditLog)).rejects.toThrow(/authoriz/i);
    await produce(asPrincipal('auditor'), Topics.deadLetter); // everyone may dead-letter
  }, 60_000);

  it('lets the operators read the audit log, and refuses the revoker', async () => {
    await readOne(asPrincipal('cli'), Topics.auditLog, `rotor-cli-test-${randomUUID()}`);
    const refused = await readOne(asPrincipal('revoker'), Topics.auditLog, `rotor-revoker-test-${randomUUID()}`).catch((e: unknown) => e);
    expect(isKafkaAuthorizationFailure(refused)).toBe(true);
  }, 60_000);

  it('keeps each principal to its own consumer groups', async () => {
    await readOne(asPrincipal('revoker'), Topics.leaseIssued, `rotor-revoker-test-${randomUUID()}`);
    const refused = await readOne(asPrincipal('revoker'), Topics.leaseIssued, `rotor-issuer-test-${randomUUID()}`).catch((e: unknown) => e);
    // The broker answers FindCoordinator with GROUP_AUTHORIZATION_FAILED; kafkajs 2.2.4 reports
    // that as "Failed to find group coordinator" (the allowed group above found it at once).
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).name).toMatch(/KafkaJSGroupCoordinatorNotFound|Authorization/);
  }, 60_000);
});
