/**
 * Audit benchmark, two figures:
 *  1. replay-and-verify throughput: `rotor audit replay --verify` (the operators' tool, as a
 *     process) over N pre-sealed audit records on a topic of their own (default 1,000,000), in
 *     three forms verified in turn in each run: HMAC links checked with ROTOR_AUDIT_KEY (the log
 *     before signed checkpoints), SHA-256 links with one checkpoint at the end, and SHA-256 links
 *     with a signed checkpoint every --checkpoint-records (10,000, as the auditor writes them),
 *     the last two checked with the public key alone;
 *  2. live ingest lag: a real auditor process appending events published at a target rate
 *     (default 2,000 events/s); lag = the audit record's append time − the event's time. The
 *     achieved rate (events the bench published ÷ wall time of publishing) is reported next to
 *     the target. The auditor also audits other producers' events on the shared topics, so only
 *     the bench's own events (by event id) count: drain = the last of them appended − the last
 *     publish.
 *
 *   npm run bench:audit -- [--records 1000000] [--runs 3] [--rate 2000] [--seconds 20] [--skip-replay] [--skip-live] [--json]
 *
 * Needs the local services (scripts/services-up.sh); reads .rotor/env. Uses its own audit topics,
 * consumer group and, for the live auditor, a PostgreSQL database of its own on the stack's server
 * (a PrivateAuditDatabase owned by rotor_auditor), deleted afterwards; the live part
 * publishes real events on the shared rotor topics (lease.issued and access) that other
 * consumers will see. Progress goes to stderr, results to stdout.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Partitioners, type Admin } from 'kafkajs';

import {
  AuditKeyring,
  auditKeyId,
  ChainVerifier,
  GENESIS,
  sealLegacyRecord,
  sealRecord,
  signCheckpoint,
  type ChainHead,
} from '@rotor/audit-chain';
import { AuditLogMessageSchema, createEvent, DOMAIN_TOPICS, Topics, type AuditRecord } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';

import { startGroupAtEnd } from '../test/support/kafka-groups';
import { PrivateAuditDatabase } from '../test/support/private-audit-database';
import { loadServicesEnv } from '../test/support/services-env';
import { ServiceProcess } from '../test/support/service-process';
import { TestIdentity } from '../test/support/test-identity';

import { num, table, withSpread } from './lib/report';
import { kafkaFromEnv } from '../tools/security/env-clients';
import { spread, summarizeLatencies, type Spread } from './lib/stats';

loadServicesEnv();
const ROOT = join(__dirname, '..');
const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '20' },
    'skip-replay': { type: 'boolean', default: false },
    'skip-live': { type: 'boolean', default: false },
    'checkpoint-records': { type: 'string', default: '10000' },
    json: { type: 'boolean', default: false },
  },
});
const RECORDS = Number(args.records);
const RUNS = Number(args.runs);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const CHECKPOINT_RECORDS = Number(args['checkpoint-records']);
const kafka = kafkaFromEnv('rotor-bench-audit');
const log = (message: string) => process.stderr.write(`${message}\n`);

async function withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/** How a benchmark log is sealed: its links, and how often a signed checkpoint vouches for its chain heads. */
interface LogForm {
  name: string;
  /** HMAC links need ROTOR_AUDIT_KEY to verify; SHA-256 links only the public key. */
  legacyKey?: string;
  /** A checkpoint after every this many records, and one at the end. */
  checkpointEvery: number;
}

const signer = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, keyId: auditKeyId(publicKey) };
})();
const PARTITIONS = 6;
const keyPartitioner = Partitioners.DefaultPartitioner();
const partitionOf = (topic: string, chain: string) =>
  keyPartitioner({
    topic,
    partitionMetadata: Array.from({ length: PARTITIONS }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    })),
    message: { key: chain, value: null },
  });

/** N sealed records over 96 chains (16 source topics × 6 partitions), each a lease.issued-sized event, with the form's checkpoints. */
interface LogMessage {
  partition?: number;
  key: string;
  value: string;
}

/** Writes a generated log to Kafka. */
async function produceSealedRecords(topic: string, count: number, form: LogForm): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await generateLog(topic, count, form, (messages) => producer.send({ topic, messages, acks: 1 }).then(() => undefined));
  } finally {
    await producer.disconnect();
  }
}

async function generateLog(topic: string, count: number, form: LogForm, emit: (messages: LogMessage[]) => Promise<void>): Promise<void> {
  const heads = new Map<string, ChainHead>();
  const chains = DOMAIN_TOPICS.flatMap((source) =>
    [0, 1, 2, 3, 4, 5].map((partition) => ({ source, partition, chain: `${source}:${partition}` })),
  );
  const started = Date.now();
  let checkpoints = 0;
  const BATCH = 1_000; // ~1 KB records: under the broker's 1 MB batch limit per partition
  for (let start = 0; start < count; start += BATCH) {
    const messages: LogMessage[] = [];
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      const { source, partition, chain } = chains[i % chains.length]!;
      const head = heads.get(chain);
      const leaseId = randomUUID();
      const time = new Date(started + i).toISOString();
      const fields = {
        seq: head ? head.seq + 1 : 0,
        chain,
        sourceTopic: source,
        sourcePartition: partition,
        sourceOffset: String(head ? head.seq + 1 : 0),
        eventId: leaseId,
        eventType: Topics.leaseIssued,
        known: true,
        recordedAt: time,
        event: {
          specversion: '1.0',
          id: leaseId,
          source: '/rotor/issuer',
          type: Topics.leaseIssued,
          time,
          subject: leaseId,
          datacontenttype: 'application/json',
          data: {
            leaseId,
            role: 'orders-db',
            owner: 'team-orders',
            backend: 'postgres',
            workload: { namespace: 'orders', serviceAccount: 'api', podName: `hmac-sha256:${'ab'.repeat(32)}` },
            issuedAt: time,
            expiresAt: time,
            maxExpiresAt: time,
            revocationHandle: { backend: 'postgres', roleName: `rotor_${leaseId.replaceAll('-', '')}` },
          },
        },
        prev: head?.hash ?? GENESIS,
      };
      const record = form.legacyKey ? sealLegacyRecord(form.legacyKey, fields) : sealRecord(fields);
      heads.set(chain, { seq: record.seq, hash: record.hash });
      messages.push({ key: chain, value: JSON.stringify(record) });
    }
    await emit(messages);
    const produced = start + messages.length;
    if (produced === count || Math.floor(produced / form.checkpointEvery) > Math.floor(start / form.checkpointEvery)) {
      // After the records it vouches for, in every partition: as the auditor writes them.
      checkpoints++;
      const checkpoint = signCheckpoint(
        {
          kind: 'checkpoint',
          number: checkpoints,
          issuedAt: new Date().toISOString(),
          intervalMs: 3_600_000, // the runs below take minutes: not stale meanwhile
          partitions: PARTITIONS,
          heads: [...heads].map(([chain, head]) => ({ chain, ...head, partition: partitionOf(topic, chain) })),
        },
        signer,
      );
      const value = JSON.stringify(checkpoint);
      await emit(Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, key: 'checkpoint', value })));
    }
    if ((start / BATCH) % 100 === 0)
      log(`  produced ${(start + messages.length).toLocaleString('en-US')}/${count.toLocaleString('en-US')}`);
  }
  log(
    `  ${count.toLocaleString('en-US')} records and ${checkpoints} checkpoints produced in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

/**
 * The verifier alone, in this process: parse and verify a generated log held in memory, so the
 * cost of the checks is seen without Kafka's read (which dominates the CLI figure).
 */
async function verifyInProcess(form: LogForm, count: number): Promise<number> {
  const topic = 'rotor.audit.bench-memory.v1';
  const log: LogMessage[] = [];
  await generateLog(topic, count, form, (messages) => {
    for (const message of messages) log.push({ ...message, partition: message.partition ?? partitionOf(topic, message.key) });
    return Promise.resolve();
  });
  const verifier = new ChainVerifier({
    keyring: new AuditKeyring([signer.publicKey]),
    ...(form.legacyKey ? { legacyKey: form.legacyKey } : {}),
  });
  const started = process.hrtime.bigint();
  log.forEach(({ partition, value }, offset) => {
    const parsed = AuditLogMessageSchema.parse(JSON.parse(value));
    const located = { partition: partition!, offset: String(offset) };
    if ('kind' in parsed) verifier.addCheckpoint({ checkpoint: parsed, ...located });
    else verifier.add({ record: parsed, ...located });
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result = verifier.result();
  if (!result.ok || result.records !== count) throw new Error(`${form.name}: in-process verification said ok=${result.ok}`);
  return count / seconds;
}

interface ReplayRun {
  eventsPerSecond: number;
  wallEventsPerSecond: number;
  ok: boolean;
  records: number;
}

function replayVerify(topic: string, form: LogForm, keyFile: string): Promise<ReplayRun> {
  const started = Date.now();
  const env: NodeJS.ProcessEnv = { ...process.env, ROTOR_AUDIT_TOPIC: topic };
  delete env['ROTOR_AUDIT_KEY'];
  if (form.legacyKey) env['ROTOR_AUDIT_KEY'] = form.legacyKey;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        join(ROOT, 'apps', 'cli', 'src', 'main.ts'),
        'audit',
        'replay',
        '--verify',
        '--json',
        '--public-key',
        keyFile,
      ],
      { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && error.code !== 2) return reject(new Error(`replay failed: ${stderr}`));
        const summary = JSON.parse(stdout) as { read: number; eventsPerSecond: number; verify: { ok: boolean; records: number } };
        resolve({
          eventsPerSecond: summary.eventsPerSecond,
          wallEventsPerSecond: summary.read / ((Date.now() - started) / 1000),
          ok: summary.verify.ok,
          records: summary.verify.records,
        });
      },
    );
  });
}

async function benchReplay() {
  const forms: LogForm[] = [
    { name: 'HMAC links, ROTOR_AUDIT_KEY (before)', legacyKey: randomBytes(32).toString('hex'), checkpointEvery: Infinity },
    { name: 'SHA-256 links, one checkpoint at the end, public key', checkpointEvery: Infinity },
    {
      name: `SHA-256 links, checkpoint every ${CHECKPOINT_RECORDS.toLocaleString('en-US')} records, public key`,
      checkpointEvery: CHECKPOINT_RECORDS,
    },
  ];
  const keyFile = join(mkdtempSync(join(tmpdir(), 'rotor-bench-keys-')), 'keys.json');
  writeFileSync(keyFile, JSON.stringify(new AuditKeyring([signer.publicKey]).jwks()));
  const topics = forms.map(() => `rotor.audit.bench-${randomUUID().slice(0, 8)}.v1`);
  log(`replay-and-verify: ${RECORDS.toLocaleString('en-US')} records in each of ${forms.length} forms`);
  await withAdmin((admin) =>
    admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
      waitForLeaders: true,
    }),
  );
  try {
    for (const [index, form] of forms.entries()) {
      log(`  ${form.name}: ${topics[index]}`);
      await produceSealedRecords(topics[index]!, RECORDS, form);
    }
    const inProcess: number[][] = forms.map(() => []);
    const memoryRecords = Math.min(RECORDS, 100_000);
    for (let run = 1; run <= RUNS; run++) {
      for (const [index, form] of forms.entries()) {
        inProcess[index]!.push(await verifyInProcess(form, memoryRecords));
        log(`  run ${run}, ${form.name}: ${num(inProcess[index]!.at(-1)!)} records/s parse+verify in process`);
      }
    }
    const runs: ReplayRun[][] = forms.map(() => []);
    for (let run = 1; run <= RUNS; run++) {
      for (const [index, form] of forms.entries()) {
        const result = await replayVerify(topics[index]!, form, keyFile);
        if (!result.ok || result.records !== RECORDS)
          throw new Error(`run ${run}, ${form.name}: verification said ok=${result.ok} over ${result.records} records`);
        log(
          `  run ${run}, ${form.name}: ${num(result.eventsPerSecond)} events/s (read+verify), ${num(result.wallEventsPerSecond)} events/s with process start`,
        );
        runs[index]!.push(result);
      }
    }
    return {
      records: RECORDS,
      runs: RUNS,
      forms: forms.map((form, index) => ({
        name: form.name,
        inProcessPerSecond: spread(inProcess[index]!),
        eventsPerSecond: spread(runs[index]!.map((r) => r.eventsPerSecond)),
        wallEventsPerSecond: spread(runs[index]!.map((r) => r.wallEventsPerSecond)),
      })),
    };
  } finally {
    await withAdmin((admin) => admin.deleteTopics({ topics }).catch(() => undefined));
  }
}

interface LiveRun {
  published: number;
  /** Events this bench published per second of wall time, measured (the target is RATE). */
  achievedRate: number;
  lagMs: { p50: number; p99: number; max: number };
  drainSeconds: number;
}

/**
 * Records the auditor appended so far, from its own counter: polling it costs the auditor nothing.
 * It counts other producers' events too, so it only says when reading the audit topic is worth it.
 */
async function appendedSoFar(auditorUrl: string): Promise<number> {
  const text = await (await fetch(`${auditorUrl}/metrics`)).text();
  return Number(/rotor_audit_records_total\{[^}]*outcome="appended"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
}

async function liveRun(auditTopic: string, auditorUrl: string, publisher: EventPublisher, runStarted: Date): Promise<LiveRun> {
  const baseline = await appendedSoFar(auditorUrl);
  const ids = new Set<string>();
  const tick = 50;
  const perTick = Math.round((RATE * tick) / 1000);
  const started = Date.now();
  for (let n = 0; Date.now() - started < SECONDS * 1000; n++) {
    const due = started + n * tick;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    const messages = Array.from({ length: perTick }, (_v, i) => {
      const leaseId = randomUUID();
      const event =
        i % 2 === 0
          ? createEvent({
              topic: Topics.leaseIssued,
              source: '/rotor/bench',
              subject: leaseId,
              data: {
                leaseId,
                role: 'bench',
                owner: 'team-bench',
                backend: 'opaque-token',
                workload: { namespace: 'bench', serviceAccount: 'load', podName: 'load-1' },
                issuedAt: new Date().toISOString(),
                expiresAt: new Date(Date.now() + 600_000).toISOString(),
                maxExpiresAt: new Date(Date.now() + 600_000).toISOString(),
                revocationHandle: { backend: 'opaque-token' },
              },
            })
          : createEvent({
              topic: Topics.access,
              source: '/rotor/bench',
              subject: 'bench-key',
              data: {
                actor: { kind: 'workload', workload: { namespace: 'bench', serviceAccount: 'load' } },
                action: 'read-secret',
                secret: 'bench-key',
                version: 1,
                at: new Date().toISOString(),
              },
            });
      ids.add(event.id);
      return { topic: event.type, key: event.subject, value: JSON.stringify(event), headers: { 'ce-id': event.id } };
    });
    await publisher.send(messages);
  }
  const achievedRate = ids.size / ((Date.now() - started) / 1000);
  const publishedAt = Date.now();
  log(`  published ${ids.size.toLocaleString('en-US')} events at ${num(achievedRate)} events/s (target ${RATE}); waiting for the auditor`);

  const deadline = Date.now() + 300_000;
  while ((await appendedSoFar(auditorUrl)) - baseline < ids.size && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 200));
  const lags: number[] = [];
  const seen = new Set<string>();
  let lastAppendedAt = 0;
  while (seen.size < ids.size && Date.now() < deadline) {
    lags.length = 0;
    seen.clear();
    await readTopicRange(kafka, {
      topic: auditTopic,
      fromTime: runStarted,
      onMessage: (message) => {
        const parsed = AuditLogMessageSchema.parse(JSON.parse(message.value!.toString()));
        if ('kind' in parsed) return; // a checkpoint
        const record: AuditRecord = parsed;
        if (!ids.has(record.eventId) || seen.has(record.eventId)) return;
        seen.add(record.eventId);
        lastAppendedAt = Math.max(lastAppendedAt, Number(message.timestamp));
        lags.push(Number(message.timestamp) - Date.parse(String(record.event['time'])));
      },
    });
    if (seen.size < ids.size) await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  if (seen.size < ids.size) throw new Error(`only ${seen.size}/${ids.size} events audited after 5 minutes`);
  // An auditor keeping up can append the last event before its publish is acknowledged here: 0, not negative.
  const drainSeconds = Math.max(0, lastAppendedAt - publishedAt) / 1000;
  const summary = summarizeLatencies(lags);
  return { published: ids.size, achievedRate, lagMs: { p50: summary.p50, p99: summary.p99, max: summary.max }, drainSeconds };
}

async function benchLive() {
  const database = new PrivateAuditDatabase();
  let databaseCreated = false;
  const auditTopic = `rotor.audit.bench-live-${randomUUID().slice(0, 8)}.v1`;
  const group = `rotor-auditor-bench-${randomUUID().slice(0, 8)}`;
  const identity = await TestIdentity.create();
  const publisher = new EventPublisher(kafka);
  let auditor: ServiceProcess | undefined;
  log(`live ingest: ${RATE} events/s for ${SECONDS} s, ${RUNS} runs, one auditor process`);
  try {
    await database.create();
    databaseCreated = true;
    await startGroupAtEnd(kafka, group);
    auditor = new ServiceProcess('auditor', 19491, {
      ...identity.env,
      ...database.env(),
      ROTOR_AUDIT_TOPIC: auditTopic,
      ROTOR_AUDITOR_GROUP: group,
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'warn',
    });
    await auditor.start().ready();
    await publisher.connect();
    const runs: LiveRun[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const result = await liveRun(auditTopic, auditor.url, publisher, new Date());
      log(
        `  run ${run}: lag p50 ${num(result.lagMs.p50)} ms, p99 ${num(result.lagMs.p99)} ms, max ${num(result.lagMs.max)} ms; drained ${num(result.drainSeconds)} s after the last publish`,
      );
      runs.push(result);
    }
    return {
      rate: RATE,
      seconds: SECONDS,
      runs: RUNS,
      achievedRate: spread(runs.map((r) => r.achievedRate)),
      lagP50Ms: spread(runs.map((r) => r.lagMs.p50)),
      lagP99Ms: spread(runs.map((r) => r.lagMs.p99)),
      lagMaxMs: spread(runs.map((r) => r.lagMs.max)),
      drainSeconds: spread(runs.map((r) => r.drainSeconds)),
    };
  } finally {
    await publisher.disconnect();
    await auditor?.stop();
    if (databaseCreated) await database.drop();
    await withAdmin(async (admin) => {
      await admin.deleteGroups([group]).catch(() => undefined);
      await admin.deleteTopics({ topics: [auditTopic] }).catch(() => undefined);
    });
  }
}

async function main(): Promise<void> {
  const results: { replay?: Awaited<ReturnType<typeof benchReplay>>; live?: Awaited<ReturnType<typeof benchLive>> } = {};
  if (!args['skip-replay']) results.replay = await benchReplay();
  if (!args['skip-live']) results.live = await benchLive();
  if (args.json) {
    process.stdout.write(`${JSON.stringify(results)}\n`);
    return;
  }
  const s = (value: Spread) => withSpread(value);
  if (results.replay) {
    process.stdout.write(
      `\nreplay --verify over ${results.replay.records.toLocaleString('en-US')} audit records (median of ${results.replay.runs}, min–max)\n`,
    );
    process.stdout.write(
      `${table(
        ['log', 'parse + verify in process, records/s', 'CLI read + parse + verify, events/s', 'incl. CLI start, events/s'],
        results.replay.forms.map((form) => [form.name, s(form.inProcessPerSecond), s(form.eventsPerSecond), s(form.wallEventsPerSecond)]),
      )}\n`,
    );
  }
  if (results.live) {
    const live = results.live;
    process.stdout.write(
      `\nlive ingest, target ${live.rate} events/s, achieved ${s(live.achievedRate)} events/s, for ${live.seconds} s (median of ${live.runs}, min–max)\n`,
    );
    process.stdout.write(
      `${table(
        ['figure', 'value'],
        [
          [`achieved events/s (target ${live.rate})`, s(live.achievedRate)],
          ['lag p50 ms', s(live.lagP50Ms)],
          ['lag p99 ms', s(live.lagP99Ms)],
          ['lag max ms', s(live.lagMaxMs)],
          ['drain after last publish s (own events)', s(live.drainSeconds)],
        ],
      )}\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
